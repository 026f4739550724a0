"""Retries and conflicts (issue 13, item 4), on the real server: a forced deadlock and a
serialization conflict retried to success with ``\\set retries``, failures by SQLSTATE
without it, deadlocks naming both queries, the lock-wait graph after a blocked run."""
from __future__ import annotations

import json

import pytest

from qshell.engine.conflicts import deadlock_pids, name_cycle


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


DEADLOCK = """\
DROP TABLE IF EXISTS dl_{t};
CREATE TABLE dl_{t} (id int PRIMARY KEY, v int);
INSERT INTO dl_{t} VALUES (1, 0), (2, 0);
\\set tx rollback
{extra}\\add DO $$BEGIN UPDATE dl_{t} SET v = v + 1 WHERE id = 1; PERFORM pg_sleep(0.3); UPDATE dl_{t} SET v = v + 1 WHERE id = 2; END$$;
\\add DO $$BEGIN UPDATE dl_{t} SET v = v + 1 WHERE id = 2; PERFORM pg_sleep(0.3); UPDATE dl_{t} SET v = v + 1 WHERE id = 1; END$$;
"""


def test_deadlock_pids_parsed_from_the_servers_detail():
    detail = ("Process 101 waits for ShareLock on transaction 7; blocked by process 202.\n"
              "Process 202 waits for ShareLock on transaction 8; blocked by process 101.")
    assert deadlock_pids(detail) == [(101, "ShareLock", "transaction 7", 202), (202, "ShareLock", "transaction 8", 101)]
    named = name_cycle(detail, {101: "#1", 202: "#2"}.get)
    assert [(a, b) for a, _, _, b in named] == [("#1", "#2"), ("#2", "#1")]
    assert name_cycle(detail, lambda pid: None)[0][0] == "pid 101"


@pytest.mark.slow
def test_forced_deadlock_fails_one_query_and_names_both(qshell):
    r = qshell(DEADLOCK.format(t="a", extra="") + "\\go 2\n", "--format", "json")
    assert r.code == 0, r.err  # psql's exit status: the script ran to its end
    recs = _records(r.out)
    queries = [x for x in recs if x["type"] == "query"]
    run = next(x for x in recs if x["type"] == "run")
    assert sorted(q["status"] for q in queries) == ["error", "ok"]
    assert run["failures"] == {"40P01": 1} and run["retries"] == 0
    (dl,) = run["deadlocks"]
    assert sorted(dl["queries"]) == ["#1", "#2"] and not dl["retried"]
    assert dl["victim"] == next(q["index"] for q in queries if q["status"] == "error")
    assert {(e["waiter"], e["holder"]) for e in dl["cycle"]} == {("#1", "#2"), ("#2", "#1")}


@pytest.mark.slow
def test_forced_deadlock_retried_to_success(qshell):
    r = qshell(DEADLOCK.format(t="b", extra="\\set retries 3\n") + "\\go 2\n")
    assert r.code == 0, r.err
    assert "deadlock at" in r.out and ("#1 and #2" in r.out or "#2 and #1" in r.out), r.out
    # the retry may meet the other query again (a second deadlock, retried too): at least one
    assert "(retried)" in r.out and "retries: " in r.out and "failures" not in r.out
    r = qshell(DEADLOCK.format(t="c", extra="\\set retries 3\n") + "\\go 2\n",
               "--format", "json")
    recs = _records(r.out)
    queries = [x for x in recs if x["type"] == "query"]
    assert [q["status"] for q in queries] == ["ok", "ok"]
    assert sum(q["retries"] for q in queries) >= 1
    run = next(x for x in recs if x["type"] == "run")
    assert run["retries"] == sum(q["retries"] for q in queries) == len(run["deadlocks"])
    assert run["failures"] == {} and all(d["retried"] for d in run["deadlocks"])


SERIAL = """\
DROP TABLE IF EXISTS ser_{t};
CREATE TABLE ser_{t} (id int PRIMARY KEY, v int);
INSERT INTO ser_{t} VALUES (1, 0);
\\set isolation serializable
\\set retries {k}
\\add UPDATE ser_{t} SET v = v + 1 WHERE id = 1 AND pg_sleep(0.3) IS NOT NULL;
\\add UPDATE ser_{t} SET v = v + 1 WHERE id = 1 AND pg_sleep(0.3) IS NOT NULL;
\\go 2
\\set format aligned
SELECT v FROM ser_{t};
"""


@pytest.mark.slow
def test_serialization_conflict_fails_without_retries_and_succeeds_with_them(qshell):
    r = qshell(SERIAL.format(t="a", k=0), "--format", "json")
    recs = _records(r.out)
    run = next(x for x in recs if x["type"] == "run")
    assert run["failures"] == {"40001": 1}, r.out
    assert r.out.rstrip().endswith("1\n(1 row)"), r.out
    r = qshell(SERIAL.format(t="b", k=3), "--format", "json")
    assert r.code == 0, r.err
    recs = _records(r.out)
    run = next(x for x in recs if x["type"] == "run")
    queries = [x for x in recs if x["type"] == "query"]
    assert run["failures"] == {} and run["retries"] >= 1
    assert [q["status"] for q in queries] == ["ok", "ok"] and max(q["retries"] for q in queries) >= 1
    retried = max(queries, key=lambda q: q["retries"])
    assert retried["total_ms"] >= 300  # timed from its first try
    assert r.out.rstrip().endswith("2\n(1 row)"), r.out  # both updates committed


@pytest.mark.slow
def test_lock_graph_after_a_blocked_run_names_relation_and_mode(qshell):
    script = """\
DROP TABLE IF EXISTS lg;
CREATE TABLE lg (id int PRIMARY KEY, balance int);
INSERT INTO lg VALUES (1, 100);
\\set tx rollback
\\add SELECT pg_sleep(0.8) FROM (SELECT * FROM lg WHERE id = 1 FOR UPDATE) s;
\\add UPDATE lg SET balance = balance - 10 WHERE id = 1 AND pg_sleep(0.1) IS NOT NULL;
\\go 2
"""
    r = qshell(script)
    assert r.code == 0, r.err
    line = next(x for x in r.out.splitlines() if x.strip().startswith("#2 → #1"))
    assert "lg" in line and "ShareLock" in line and "transactionid" in line, r.out
    r = qshell(script, "--format", "json")
    run = next(x for x in _records(r.out) if x["type"] == "run")
    edge = run["lock_waits"][0]
    assert (edge["waiter"], edge["holder"], edge["relation"], edge["mode"]) == ("#2", "#1", "lg", "ShareLock")
    assert edge["ms"] > 200


def test_read_only_does_not_retry_a_call_run_outside_qshells_transaction(qshell):
    """``\\set readonly on`` alone runs a CALL plainly on the read-only session (it cannot
    run in a transaction block): a procedure may COMMIT there, so a 40001 after its COMMIT
    is never retried (its work would be committed again at each try)."""
    r = qshell("""
DROP TABLE IF EXISTS ro_cnt;
CREATE TABLE ro_cnt (a int);
CREATE OR REPLACE PROCEDURE ro_p() LANGUAGE plpgsql AS $$BEGIN COMMIT; SET TRANSACTION READ WRITE;
  INSERT INTO ro_cnt VALUES (1); COMMIT; RAISE EXCEPTION 'late' USING ERRCODE = '40001'; END$$;
\\set readonly on
\\set retries 2
\\add CALL ro_p();
\\go 1
\\set readonly off
SELECT count(*) AS n FROM ro_cnt;
""")
    assert "not retried: it contains CALL" in r.out + r.err
    assert "\n 1\n" in r.out.split(" n \n")[1]  # committed once, not once per try
