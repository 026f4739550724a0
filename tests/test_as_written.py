"""Issue 19, "As written, once": the server receives what psql would send, once, judged by
the server's own record (``tests/oracle.py``: every statement logged, every plan logged).

Each test runs qshell (a real process) and, where there is something to compare with, psql,
on the logged server, each in a database of its own and with an ``application_name`` of
its own, then reads what the server received. qshell's bookkeeping statements are allowed
(pings, the sampler, ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``, ``DISCARD ALL``, settings), but
never the user's text: ``user_statements`` picks out every statement that contains any part
of it. What is asserted:

- a plain script: the same texts as psql's, in the same order;
- a staged text (``\\add`` then ``\\go``): received exactly once (twice only for a retry the
  test forces), exactly as written (psql's ``\\;`` as ``;``; a final ``;`` may be left
  off), without ``DECLARE`` / ``FETCH`` / ``EXPLAIN`` around it; in a transaction mode the
  statements before and after it on its backend are ``BEGIN [ISOLATION LEVEL …]`` and
  ``COMMIT`` / ``ROLLBACK``, each alone;
- the items of issue 19's "What was seen", one test each (``test_item…``).

The staged texts carry tags (``/* tag */`` or a literal) so that no bookkeeping statement
can contain them. Nothing here measures time: a sleep only gives a side connection the time
to see a statement running.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess

import psycopg2
import pytest

pytest.register_assert_rewrite("tests.oracle")  # before the import below: its asserts explained too

from qshell.engine.execute import statements

from .oracle import as_written, holds_user_text, qshell_env, same_text, wait_until

pytest_plugins = ["tests.oracle"]

EXPLAIN_PREFIX = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "  # what README's \set explain analyze sends
BEGIN = re.compile(r"BEGIN(?: ISOLATION LEVEL (?:READ COMMITTED|REPEATABLE READ|SERIALIZABLE))?(?: READ (?:ONLY|WRITE))?;?", re.I)
END = re.compile(r"(COMMIT|ROLLBACK);?", re.I)


# -- helpers --------------------------------------------------------------------------------------
def app_name(what: str) -> str:
    return f"{what}-{secrets.token_hex(3)}"


def records(out: str) -> list[dict]:
    """qshell's JSON lines (``--format json``)."""
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def staged_records(out: str) -> list[list[dict]]:
    """The query records of each run, run by run, in staged order."""
    runs: dict[str, list[dict]] = {}
    for rec in records(out):
        if rec.get("type") == "query":
            runs.setdefault(rec["run_id"], []).append(rec)
    return [sorted(qs, key=lambda q: q["index"]) for qs in runs.values()]


def add_lines(texts: list[str]) -> str:
    return "".join(f"\\add {t};\n" for t in texts)


def _listing(db, app: str) -> str:  # noqa: ANN001
    lines = [f"  [{r.pid}]{' ERROR' if r.failed else ''} {r.text!r}" for r in db.received(app)]
    if len(lines) > 80:
        lines = lines[:20] + [f"  … {len(lines) - 40} more …"] + lines[-20:]
    return f"every statement the server received from {app}:\n" + "\n".join(lines)


# qshell's planning step for \set resources (resources.py): single statements only,
# EXPLAIN without ANALYZE (never executed) in a transaction made read only before it
_PLANNING = re.compile(r"BEGIN TRANSACTION (?:READ ONLY, )?NOT DEFERRABLE; .*"
                       r"(?:SET TRANSACTION READ ONLY; SELECT r FROM pg_temp\.qshell_queryids\(ARRAY\[.*"
                       r"|EXPLAIN \(VERBOSE, FORMAT JSON\) .*)", re.S)


def _planning(db, app: str, r, texts: list[str]) -> str | None:  # noqa: ANN001
    """Why ``r`` is not an acceptable planning statement of qshell's, or None when it is:
    its form (``_PLANNING``, read only before any EXPLAIN), only single statements in it,
    and a ROLLBACK next on its backend (nothing it did stays)."""
    if not _PLANNING.fullmatch(r.text):
        return "not qshell's read-only planning"
    held = [t for t in texts if as_written(t) in r.text]
    if any(len(statements(t)) != 1 for t in held):
        return "a group of statements planned"
    _, after = neighbours(db.received(app), r)
    if after != "ROLLBACK":
        return f"planning not rolled back (next: {after!r})"
    return None


def check_once_as_written(db, app: str, texts: list[str], tries: dict[str, int] | None = None,  # noqa: ANN001
                          prefix: str = "", planned: bool = False) -> dict[str, list]:
    """Each of ``texts`` received exactly ``tries[text]`` times (default once), each time
    as written (or ``prefix`` + as written); nothing else received holds any part of them
    but, with ``planned`` (\\set resources), qshell's read-only EXPLAIN of single statements
    (the figure-gathering step the issue allows: never executed, never for a group).
    Returns, per text, what was received for it."""
    tries = tries or {}
    got = db.user_statements(app, texts)
    found: dict[str, list] = {t: [] for t in texts}
    problems = []
    for r in got:
        if planned and _planning(db, app, r, texts) is None:
            continue
        owner = [t for t in texts if same_text(r.text, t) or (prefix and same_text(r.text, prefix + as_written(t)))]
        if not owner:
            problems.append(f"received with the user's text around or in it, not as written: {r.text!r}")
            continue
        for t in owner:
            found[t].append(r)
    for t in texts:
        want = tries.get(t, 1)
        if len(found[t]) != want:
            problems.append(f"{as_written(t)!r} received as written {len(found[t])} times, not {want}")
    assert not problems, "\n".join(problems) + "\n" + _listing(db, app)
    return found


def neighbours(received: list, r) -> tuple[str | None, str | None]:  # noqa: ANN001
    """The statements received (of ``received``) just before and just after ``r`` on its backend."""
    mine = [x for x in received if x.pid == r.pid]
    i = next(k for k, x in enumerate(mine) if x.seq == r.seq)
    return (mine[i - 1].text if i > 0 else None, mine[i + 1].text if i + 1 < len(mine) else None)


def check_between_begin_and_end(db, app: str, found: dict[str, list], end: str, serializable: bool = False) -> None:  # noqa: ANN001
    """Each text received (``found``, from ``check_once_as_written``) has, on its backend,
    just before it a ``BEGIN [ISOLATION LEVEL …]`` alone (``SERIALIZABLE`` when asked) and
    just after it ``end`` (``COMMIT`` / ``ROLLBACK``) alone."""
    problems = []
    everything = db.received(app)
    for t, received in found.items():
        for mine in received:
            before, after = neighbours(everything, mine)
            if before is None or not BEGIN.fullmatch(before):
                problems.append(f"{as_written(t)!r}: before it on its backend {before!r}, not a BEGIN alone")
            elif serializable and "ISOLATION LEVEL SERIALIZABLE" not in before.upper():
                problems.append(f"{as_written(t)!r}: begun by {before!r}, not at ISOLATION LEVEL SERIALIZABLE")
            if after is None or not END.fullmatch(after) or after.rstrip(";").upper() != end:
                problems.append(f"{as_written(t)!r}: after it on its backend {after!r}, not {end} alone")
    assert not problems, "\n".join(problems) + "\n" + _listing(db, app)


@pytest.fixture
def run_qshell(logged_server, tmp_path):
    def run(script: str, dsn: str, *args: str, timeout: float = 120):  # noqa: ANN202
        return logged_server.qshell(script, dsn, *args, history=tmp_path / "history", timeout=timeout)

    return run


# -- plain statements: as psql sends them ----------------------------------------------------------
SCRIPT = """CREATE TABLE s1 (id int, note text);
INSERT INTO s1 VALUES (1, 'one'), (2, 'two');
SELECT id, note FROM s1 ORDER BY id;
SELECT 'grp-a' AS a \\; SELECT 'grp-b' AS b;
UPDATE s1 SET note = 'uno' WHERE id = 1;
SELECT count(*) AS rows_in_s1 FROM s1;
"""


def test_a_script_sends_what_psql_sends(logged_server, run_qshell):
    """The same script on stdin to psql and to qshell: the server receives the same texts
    in the same order (psql's line through its ``;``, a ``\\;`` group as one message)."""
    psql_db, qshell_db = logged_server.database("plain_psql"), logged_server.database("plain_qshell")
    papp, qapp = app_name("psql-plain"), app_name("qshell-plain")
    p = logged_server.psql(SCRIPT, psql_db.dsn(papp))
    assert p.code == 0 and "ERROR" not in p.err, p.err
    q = run_qshell(SCRIPT, qshell_db.dsn(qapp))
    assert q.code == 0, q.err
    expected = psql_db.statements(papp)
    assert expected[3] == "SELECT 'grp-a' AS a ; SELECT 'grp-b' AS b;"  # the oracle: psql's own message
    got = [r.text for r in qshell_db.user_statements(qapp, expected)]
    assert got == expected, _listing(qshell_db, qapp)


FETCH_SCRIPT = """\\set FETCH_COUNT 2
SELECT g, repeat('x', g) AS r /* fc-a */ FROM generate_series(1, 5) g;
\\x
SELECT g, repeat('y', g) AS r /* fc-b */ FROM generate_series(1, 5) g;
"""


def test_fetch_count_sends_the_statement_as_typed_and_prints_as_psql(logged_server, run_qshell):
    """``FETCH_COUNT`` set: psql 18 sends the statement as typed (no cursor: it reads the
    result in libpq's chunks), and so does qshell; the output is psql's: each chunk aligned
    on its own, the header once, expanded records numbered on across chunks."""
    psql_db, qshell_db = logged_server.database("fetch_psql"), logged_server.database("fetch_qshell")
    papp, qapp = app_name("psql-fetch"), app_name("qshell-fetch")
    p = logged_server.psql(FETCH_SCRIPT, psql_db.dsn(papp))
    q = run_qshell(FETCH_SCRIPT, qshell_db.dsn(qapp), "-v", "null=")
    assert p.code == q.code == 0, q.err
    expected = psql_db.statements(papp)
    assert len(expected) == 2 and all("fc-" in e and "CURSOR" not in e for e in expected)
    assert [r.text for r in qshell_db.user_statements(qapp, expected)] == expected, _listing(qshell_db, qapp)
    assert q.out == p.out and "-[ RECORD 5 ]" in q.out


# -- staged statements: once, as written -------------------------------------------------------------
STAGED_SETUP = "CREATE TABLE st (id int PRIMARY KEY, v int); INSERT INTO st SELECT g, 0 FROM generate_series(1, 10) g;"
STAGED = [
    "SELECT count(*) AS n /* st-a */ FROM st",
    "UPDATE st SET v = v + 1 WHERE id = 1 /* st-b */",
    "SELECT 'st-c1' AS a \\; SELECT 'st-c2' AS b",
    "WITH w AS (SELECT id FROM st WHERE id <= 3) SELECT sum(id) AS s /* st-d */ FROM w",
]


@pytest.mark.slow
@pytest.mark.parametrize("settings", ["", "\\set retries 2\n"], ids=["autocommit", "retries-2"])
def test_staged_texts_are_received_once_as_written_and_as_psql_sends_them(logged_server, run_qshell, settings):
    """Staged in autocommit (and with ``\\set retries 2``, nothing failing): each text once,
    unwrapped; the same text psql sends for the same line typed as a plain statement."""
    db = logged_server.database("staged", setup=STAGED_SETUP)
    app = app_name("qshell-staged")
    r = run_qshell(settings + add_lines(STAGED) + "\\go 2\n", db.dsn(app), "--format", "json")
    assert r.code == 0, r.err
    (run,) = staged_records(r.out)
    assert [q["status"] for q in run] == ["ok"] * len(STAGED), run
    found = check_once_as_written(db, app, STAGED)
    assert db.query("SELECT v FROM st WHERE id = 1") == [(1,)]

    oracle = logged_server.database("staged_psql", setup=STAGED_SETUP)
    papp = app_name("psql-staged")
    p = logged_server.psql("".join(f"{t};\n" for t in STAGED), oracle.dsn(papp))
    assert p.code == 0 and "ERROR" not in p.err, p.err
    sent_by_psql = oracle.statements(papp)
    assert len(sent_by_psql) == len(STAGED)
    for t, psql_text in zip(STAGED, sent_by_psql, strict=True):
        (mine,) = found[t]
        assert same_text(mine.text, psql_text), f"qshell sent {mine.text!r}, psql {psql_text!r}"


@pytest.mark.parametrize("mode", ["tx-rollback", "serializable"])
def test_staged_texts_in_a_transaction_mode_come_between_begin_and_its_end(logged_server, run_qshell, mode):
    """``\\set tx rollback`` / ``\\set isolation serializable``: each staged text once, as
    written, the statement before it on its backend ``BEGIN [ISOLATION LEVEL …]`` alone and
    the one after it ``ROLLBACK`` / ``COMMIT`` alone."""
    setting = "\\set tx rollback\n" if mode == "tx-rollback" else "\\set isolation serializable\n"
    db = logged_server.database("txmode", setup=STAGED_SETUP)
    app = app_name(f"qshell-{mode}")
    r = run_qshell(setting + add_lines(STAGED) + "\\go 2\n", db.dsn(app), "--format", "json")
    assert r.code == 0, r.err
    (run,) = staged_records(r.out)
    assert [q["status"] for q in run] == ["ok"] * len(STAGED), run
    found = check_once_as_written(db, app, STAGED)
    check_between_begin_and_end(db, app, found, "ROLLBACK" if mode == "tx-rollback" else "COMMIT",
                                serializable=mode == "serializable")
    assert db.query("SELECT v FROM st WHERE id = 1") == [(0 if mode == "tx-rollback" else 1,)]


def test_staged_texts_with_resources_on_are_received_once_as_written(logged_server, run_qshell):
    """``\\set resources on`` (pg_stat_statements created in the database): the figures
    come, and the texts still reach the server once each, as written, never inside a
    cursor; besides, each is planned (EXPLAIN without ANALYZE, in a read-only transaction
    rolled back), which the issue allows for single statements."""
    db = logged_server.database("resources", setup="CREATE EXTENSION pg_stat_statements; " + STAGED_SETUP)
    app = app_name("qshell-resources")
    texts = [STAGED[0], STAGED[1], STAGED[3]]
    r = run_qshell("\\set resources on\n" + add_lines(texts) + "\\go 2\n", db.dsn(app), "--format", "json")
    assert r.code == 0, r.err
    (run,) = staged_records(r.out)
    assert [q["status"] for q in run] == ["ok"] * len(texts), run
    check_once_as_written(db, app, texts, planned=True)
    missing = [q["sql"] for q in run if "resources" not in q]
    assert not missing, f"no resources figures for {missing}\n{r.err}"


def test_staged_texts_with_explain_analyze_run_once(logged_server, run_qshell):
    """``\\set explain analyze`` (README: each statement EXPLAIN takes is sent as ``EXPLAIN
    (ANALYZE, BUFFERS, FORMAT JSON) …``), with resources on as by default where
    pg_stat_statements is created: each text reaches the server once (as written, or inside
    that one EXPLAIN ANALYZE) and runs once: the sequence advances by one, the row is
    updated once; each query's plan figures come back."""
    db = logged_server.database("explain", setup="CREATE EXTENSION pg_stat_statements; CREATE SEQUENCE ex_seq; "
                                + STAGED_SETUP)
    app = app_name("qshell-explain")
    texts = ["SELECT nextval('ex_seq') AS v /* ex-a */", STAGED[1]]
    r = run_qshell("\\set explain analyze\n" + add_lines(texts) + "\\go 2\n", db.dsn(app), "--format", "json")
    assert r.code == 0, r.err
    (run,) = staged_records(r.out)
    assert [q["status"] for q in run] == ["ok"] * len(texts), run
    check_once_as_written(db, app, texts, prefix=EXPLAIN_PREFIX, planned=True)
    assert db.query("SELECT last_value, is_called FROM ex_seq") == [(1, True)]
    assert db.query("SELECT v FROM st WHERE id = 1") == [(1,)]
    assert all("plan" in q for q in run), run


# -- item 1: the plan that ran ----------------------------------------------------------------------
PARALLEL = {"parallel_setup_cost": "0", "parallel_tuple_cost": "0", "min_parallel_table_scan_size": "0",
            "max_parallel_workers_per_gather": "2"}
PARALLEL_SETUP = "CREATE TABLE par AS SELECT g, g % 10 AS k FROM generate_series(1, 100000) g; ANALYZE par;"
PARALLEL_QUERY = "SELECT k, count(*) AS n FROM par GROUP BY k ORDER BY k /* item1 */"


def test_item1_a_staged_group_by_plans_parallel_workers_as_from_psql(logged_server, run_qshell):
    """Item 1: the plan auto_explain logged for the staged execution of a parallel-capable
    GROUP BY has its statement text as written and plans parallel workers ("Workers
    Planned" ≥ 1), as the same query from psql does (inside a cursor it gets no parallel plan)."""
    db = logged_server.database("item1", settings=PARALLEL, explain=True, setup=PARALLEL_SETUP)
    papp, qapp = app_name("psql-item1"), app_name("qshell-item1")
    p = logged_server.psql(PARALLEL_QUERY + ";\n", db.dsn(papp))
    assert p.code == 0 and "ERROR" not in p.err, p.err
    psql_plans = [pl for pl in db.plans(papp) if same_text(pl.query_text, PARALLEL_QUERY)]
    assert psql_plans and psql_plans[0].workers_planned >= 1, f"the oracle: psql's plan is not parallel: {psql_plans}"

    r = run_qshell(add_lines([PARALLEL_QUERY]) + "\\go 1\n", db.dsn(qapp), "--format", "json")
    assert r.code == 0, r.err
    (run,) = staged_records(r.out)
    assert run[0]["status"] == "ok" and run[0]["rowcount"] == 10, run
    check_once_as_written(db, qapp, [PARALLEL_QUERY])
    plans = [pl for pl in db.plans(qapp) if "item1" in pl.query_text]
    ran = [pl for pl in plans if same_text(pl.query_text, PARALLEL_QUERY)]
    assert ran, "no plan logged for the staged text as written; plans logged for it:\n" + "\n".join(
        f"  {pl.query_text!r}: Workers Planned {pl.values('Workers Planned')}" for pl in plans)
    assert all(pl.workers_planned >= 1 for pl in ran), [(pl.query_text, pl.plan.get("Node Type")) for pl in ran]


@pytest.mark.slow
def test_pg_stat_activity_shows_the_staged_text_as_written_while_it_runs(logged_server, tmp_path):
    """While a staged ``SELECT pg_sleep(2) /* tag */`` runs, ``pg_stat_activity.query`` of its
    backend (seen from a side connection) is the text as written."""
    db = logged_server.database("activity")
    app = app_name("qshell-activity")
    text = "SELECT pg_sleep(2) AS slept /* activity-tag */"
    script = tmp_path / "script.sql"
    script.write_text(add_lines([text]) + "\\go 1\n")
    seen: set[str] = set()
    side = psycopg2.connect(db.dsn("oracle-side"))
    side.autocommit = True
    with open(script, "rb") as stdin, open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen(logged_server.qshell_argv(db.dsn(app), history=tmp_path / "history"),
                                stdin=stdin, stdout=out, stderr=err, env=qshell_env())
    try:
        def look() -> bool:
            with side.cursor() as cur:
                cur.execute("SELECT query FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
                            " AND query LIKE '%%activity-tag%%'", (app,))
                seen.update(row[0] for row in cur.fetchall())
            return proc.poll() is not None

        wait_until(look, timeout=120)
    finally:
        side.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, (tmp_path / "err").read_text()
    assert seen, "the staged statement was never seen running"
    assert all(same_text(q, text) for q in seen), f"pg_stat_activity showed {sorted(seen)!r}, not {text!r}"


# -- item 2: never sent again after an error -----------------------------------------------------------
ITEM2_SETUP = """CREATE SEQUENCE s2;
CREATE FUNCTION f_item2() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('s2');
  EXECUTE 'SELEC 1';
  RETURN 1;
END$$;
"""


def test_item2_a_function_failing_with_a_syntax_error_inside_runs_once(logged_server, run_qshell):
    """Item 2: a staged ``SELECT f()`` whose body advances a sequence, then EXECUTEs a syntax
    error: it fails (42601), the sequence advanced once, the text received once."""
    db = logged_server.database("item2", setup=ITEM2_SETUP)
    app = app_name("qshell-item2")
    text = "SELECT f_item2() AS r /* item2 */"
    r = run_qshell(add_lines([text]) + "\\go 1\n", db.dsn(app), "--format", "json")
    (run,) = staged_records(r.out)
    assert run[0]["status"] == "error" and run[0]["sqlstate"] == "42601", run
    assert db.query("SELECT last_value, is_called FROM s2") == [(1, True)], "the function ran more than once"
    check_once_as_written(db, app, [text])


# -- item 4: tx rollback refuses what would commit ------------------------------------------------------
@pytest.mark.parametrize("order,word", [("set-then-add", "COMMIT"), ("add-then-set", "COMMIT"), ("set-then-add", "END")])
def test_item4_tx_rollback_refuses_a_group_that_ends_its_transaction(logged_server, run_qshell, order, word):
    """Item 4: in ``\\set tx rollback`` a staged ``DELETE … \\; COMMIT`` (or ``END``) would
    commit the DELETE: it is refused, whether staged before or after the setting; row 5 is
    still there and the DELETE never reached the server."""
    db = logged_server.database("item4", setup="CREATE TABLE t4 (id int); INSERT INTO t4 SELECT generate_series(1, 10);")
    app = app_name("qshell-item4")
    text = f"DELETE FROM t4 WHERE id = 5 /* item4 */ \\; {word}"
    staged = add_lines([text])
    script = ("\\set tx rollback\n" + staged if order == "set-then-add" else staged + "\\set tx rollback\n") + "\\go 1\n"
    r = run_qshell(script, db.dsn(app))
    assert db.query("SELECT count(*) FROM t4 WHERE id = 5") == [(1,)], f"row 5 was deleted\n{r.out}\n{r.err}"
    sent = db.user_statements(app, ["DELETE FROM t4 WHERE id = 5 /* item4 */"])
    assert not sent, f"the DELETE reached the server: {[s.text for s in sent]}\n{r.err}"


# -- item 5: retries only what may run again ----------------------------------------------------------
ITEM5_SETUP = """CREATE TABLE r5 (id serial, note text);
CREATE SEQUENCE first_try;
CREATE FUNCTION f_fail_40001() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'forced serialization failure' USING ERRCODE = 'serialization_failure';
END$$;
CREATE FUNCTION f_fail_first_try() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('first_try') = 1 THEN
    RAISE EXCEPTION 'forced serialization failure, first try only' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN 1;
END$$;
CREATE PROCEDURE p_commit_then_fail() LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO r5 (note) VALUES ('from the procedure');
  COMMIT;
  RAISE EXCEPTION 'forced serialization failure after a commit' USING ERRCODE = 'serialization_failure';
END$$;
"""


def test_item5_retries_never_run_again_a_procedure_that_committed(logged_server, run_qshell):
    """Item 5: ``\\set retries 3`` and a staged ``CALL`` of a procedure that inserts a row,
    COMMITs, then fails with 40001: one row afterwards, the CALL received once."""
    db = logged_server.database("item5a", setup=ITEM5_SETUP)
    app = app_name("qshell-item5a")
    text = "CALL p_commit_then_fail() /* item5a */"
    r = run_qshell("\\set retries 3\n" + add_lines([text]) + "\\go 1\n", db.dsn(app), "--format", "json")
    (run,) = staged_records(r.out)
    assert run[0]["sqlstate"] == "40001", run
    assert db.query("SELECT count(*) FROM r5") == [(1,)], "the committed procedure ran again"
    check_once_as_written(db, app, [text])


def test_item5_retries_never_run_again_a_group_that_commits(logged_server, run_qshell):
    """Item 5: ``\\set retries 3`` and a staged ``INSERT … \\; COMMIT \\; SELECT f_fail_40001()``:
    the INSERT is committed before the failure, so the group is not retried: one row, received once."""
    db = logged_server.database("item5b", setup=ITEM5_SETUP)
    app = app_name("qshell-item5b")
    text = "INSERT INTO r5 (note) VALUES ('item5b') \\; COMMIT \\; SELECT f_fail_40001() AS x /* item5b */"
    r = run_qshell("\\set retries 3\n" + add_lines([text]) + "\\go 1\n", db.dsn(app), "--format", "json")
    (run,) = staged_records(r.out)
    assert run[0]["status"] != "ok", run
    assert db.query("SELECT count(*) FROM r5") == [(1,)], "the committed INSERT ran again"
    check_once_as_written(db, app, [text])


def test_item5_a_group_without_transaction_control_is_retried(logged_server, run_qshell):
    """Item 5, the other side: a ``\\;`` group with no transaction control, failing with
    40001 on its first try only, is retried (its first try rolled back whole) and succeeds:
    one row, status ok, one retry, the text received as written twice."""
    db = logged_server.database("item5c", setup=ITEM5_SETUP)
    app = app_name("qshell-item5c")
    text = "SELECT f_fail_first_try() AS x /* item5c */ \\; INSERT INTO r5 (note) VALUES ('item5c')"
    r = run_qshell("\\set retries 2\n" + add_lines([text]) + "\\go 1\n", db.dsn(app), "--format", "json")
    assert r.code == 0, r.err
    (run,) = staged_records(r.out)
    assert run[0]["status"] == "ok" and run[0]["retries"] == 1, run
    assert db.query("SELECT count(*) FROM r5") == [(1,)]
    check_once_as_written(db, app, [text], tries={text: 2})


# -- item 6: nothing of one run's session state in the next -----------------------------------------------
def test_item6_no_session_state_of_a_run_is_seen_by_the_next(logged_server, run_qshell):
    """Item 6: one ``\\go`` of staged ``SET ROLE``, ``SET search_path``, ``set_config(…,
    false)``, ``pg_advisory_lock``, ``CREATE TEMP TABLE``, ``PREPARE``; then ``\\clear`` and a
    second ``\\go`` on as many workers reading all of it: none of the first run's state is
    seen, and afterwards no backend of qshell's but the user's session holds an advisory lock.
    What the user's own session SET (``work_mem``, a custom ``app.y``) reaches the workers
    of the second run all the same (README: the workers are given the session's settings)."""
    role = f"r6_{secrets.token_hex(3)}"
    db = logged_server.database("item6", setup=f"CREATE ROLE {role}; CREATE SCHEMA s6 AUTHORIZATION {role};")
    app = app_name("qshell-item6")
    first = [f"SET ROLE {role}", "SET search_path = s6", "SELECT set_config('app.x', '1', false)",
             "SELECT pg_advisory_lock(42)", "CREATE TEMP TABLE tmp6 (x int)", "PREPARE p6 AS SELECT 1"]
    read = ("SELECT current_user::text AS u, current_setting('search_path') AS sp,"
            " coalesce(current_setting('app.x', true), '') AS x,"
            " (SELECT count(*) FROM pg_prepared_statements) AS prepared,"
            " (SELECT count(*) FROM pg_class WHERE relname = 'tmp6' AND relpersistence = 't') AS temps,"
            " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,"
            " current_setting('work_mem') AS wm, current_setting('app.y', true) AS y")
    held = ("SELECT count(*) AS held FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND a.application_name = current_setting('application_name')"
            " AND l.pid <> pg_backend_pid();\n")
    mine = "SET work_mem = '7MB';\nSELECT set_config('app.y', 'from-user', false);\n"
    script = mine + add_lines(first) + f"\\go {len(first)}\n\\clear\n" + add_lines([read] * len(first)) + f"\\go {len(first)}\n" + held
    r = run_qshell(script, db.dsn(app), "--format", "json")
    assert r.code == 0, r.err
    one, two = staged_records(r.out)
    assert [q["status"] for q in one] == ["ok"] * len(first), one
    assert len({q["pid"] for q in one}) == len(first)  # each on a backend of its own
    default_path = db.query("SHOW search_path")[0][0]
    want = ["postgres", default_path, "", "0", "0", "0", "7MB", "from-user"]
    seen = [q["rows"][0] for q in two]
    assert all(q["status"] == "ok" for q in two), two
    stale = [row for row in seen if [str(v) for v in row] != want]
    assert not stale, f"the second run saw the first run's state (u, search_path, app.x, prepared, temps, locks, work_mem, app.y): {stale}"
    (after,) = [rec for rec in records(r.out) if rec.get("type") == "statement" and rec["sql"].startswith("SELECT count(*) AS held")]
    assert after["rows"] == [["0"]], f"advisory locks still held by qshell's backends: {after['rows']}"


# -- item 3 (another developer's): resources never run pieces of a group ------------------------------------
@pytest.mark.parametrize("who", ["superuser", "no-temp-role"])
def test_item3_resources_never_run_a_piece_of_a_group(logged_server, run_qshell, who):
    """Item 3: ``\\set tx rollback``, ``\\set resources on`` and a staged ``SELECT \\; DELETE \\;
    SELECT`` at N=1: the DELETE is rolled back with its transaction (row 2 still there); the
    group reached the server once, as written. ``no-temp-role``: a role that may not create
    temporary objects in the database (``REVOKE TEMPORARY … FROM PUBLIC``;
    ``pg_stat_statements.track = all`` set for the database, as a non-superuser cannot set it),
    where qshell cannot make its planning function and plans text by text."""
    db = logged_server.database("item3", setup="CREATE EXTENSION pg_stat_statements;"
                                " CREATE TABLE rt (id int); INSERT INTO rt SELECT generate_series(1, 5);")
    user = "postgres"
    if who == "no-temp-role":
        user = f"rt_{secrets.token_hex(3)}"
        db.query(f"CREATE ROLE {user} LOGIN; GRANT SELECT, DELETE ON rt TO {user};"
                 f" REVOKE TEMPORARY ON DATABASE {db.name} FROM PUBLIC;"
                 f" ALTER DATABASE {db.name} SET pg_stat_statements.track = 'all'")
    app = app_name("qshell-item3")
    text = "SELECT 'rt-2' AS a \\; DELETE FROM rt WHERE id = 2 /* item3 */ \\; SELECT 'rt-3' AS b"
    r = run_qshell("\\set tx rollback\n\\set resources on\n" + add_lines([text]) + "\\go 1\n", db.dsn(app, user=user))
    assert db.query("SELECT count(*) FROM rt WHERE id = 2") == [(1,)], f"row 2 was deleted\n{r.out}\n{r.err}"
    check_once_as_written(db, app, [text])


def test_the_oracle_finds_the_user_text_in_what_holds_it():
    """The helpers' rules on examples: pieces of a group, blanks, a final ``;``."""
    assert holds_user_text("DECLARE c CURSOR FOR\nSELECT  1 AS tag\n; FETCH 1 FROM c", ["SELECT 1 AS tag"])
    assert holds_user_text("EXPLAIN SELECT 'b' /* x */", ["SELECT 'a' \\; SELECT 'b' /* x */;"])
    assert not holds_user_text("SELECT 1", ["SELECT 2 AS tag"])
    assert not holds_user_text("COMMIT", ["INSERT INTO t VALUES (1) \\; COMMIT \\; SELECT 'tag'"])
    assert holds_user_text("INSERT INTO t VALUES (1) ; COMMIT", ["INSERT INTO t VALUES (1) \\; COMMIT"])
    assert same_text("SELECT 'a' ; SELECT 'b';", "SELECT 'a' \\; SELECT 'b'")
    assert not same_text("BEGIN; SELECT 'a'", "SELECT 'a'")
    assert as_written("  SELECT 1 \\; SELECT 2 ;  ") == "SELECT 1 ; SELECT 2"


def test_the_oracle_passes_a_client_that_sends_each_text_as_written(logged_server):
    """The checks can pass: psql sending the staged texts itself, each between ``BEGIN
    ISOLATION LEVEL SERIALIZABLE`` and ``COMMIT``, is what they ask of qshell."""
    db = logged_server.database("oracle_self", setup=STAGED_SETUP)
    app = app_name("psql-self")
    p = logged_server.psql("".join(f"BEGIN ISOLATION LEVEL SERIALIZABLE;\n{t};\nCOMMIT;\n" for t in STAGED), db.dsn(app))
    assert p.code == 0 and "ERROR" not in p.err, p.err
    found = check_once_as_written(db, app, STAGED)
    check_between_begin_and_end(db, app, found, "COMMIT", serializable=True)
    with pytest.raises(AssertionError, match="not ROLLBACK alone"):
        check_between_begin_and_end(db, app, found, "ROLLBACK")
    with pytest.raises(AssertionError, match="received as written 1 times, not 2"):
        check_once_as_written(db, app, STAGED, tries={STAGED[0]: 2})
