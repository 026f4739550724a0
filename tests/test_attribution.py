"""Attribution by time: every sample, lock edge and deadlock partner goes to the execution
whose interval on that backend holds the moment it was seen, checked against what the
server itself recorded (its log: each deadlock's DETAIL with the statement every process
of the cycle was running when it was detected) or against waits known by construction
(``SELECT 1`` never sleeps)."""
from __future__ import annotations

import json
import re

from qshell.execute import TxMode
from qshell.load import LoadPool
from qshell.pool import Database, QueryPool
from qshell.sampler import Sampler

pytest_plugins = ["tests.oracle"]

_PROCESS = re.compile(r"^Process (\d+): (.*)$", re.M)
_NAME = re.compile(r"^#(\d+)$")


def _staged_of(text: str, tags: list[str]) -> int | None:
    """The staged index (1-based) whose tag the logged statement holds."""
    hits = [i for i, tag in enumerate(tags, start=1) if tag in text]
    return hits[0] if len(hits) == 1 else None


def test_deadlock_partners_are_named_as_the_server_logged_them(logged_server):
    """A deadlock-heavy load (two staged blocks updating two rows in opposite orders,
    retried): every deadlock the server logged is one the load saw, and each process of
    each cycle is named by the staged query the server says it was running at the
    detection (the log's DETAIL adds "Process N: statement") — never another, never the
    victim in place of its partner."""
    tags = ["attrib_dl_one", "attrib_dl_two"]
    db_ = logged_server.database("attrib_dl", settings={"deadlock_timeout": "20ms"},
                                 setup="CREATE TABLE dl (id int PRIMARY KEY, v int); INSERT INTO dl VALUES (1, 0), (2, 0)")
    app = "attrib-deadlocks"
    queries = [
        f"DO $$BEGIN UPDATE dl SET v = v + 1 WHERE id = 1; PERFORM pg_sleep(0.002); UPDATE dl SET v = v + 1 WHERE id = 2; END$$ /* {tags[0]} */",
        f"DO $$BEGIN UPDATE dl SET v = v + 1 WHERE id = 2; PERFORM pg_sleep(0.002); UPDATE dl SET v = v + 1 WHERE id = 1; END$$ /* {tags[1]} */",
    ]
    db = Database(db_.dsn(app))
    try:
        pool = LoadPool(db, queries, 2, 12.0, mode=TxMode(rollback=True), retries=3)
        pool.max_deadlocks = 100_000
        load = pool.run()
    finally:
        db.close()
    logged = {}
    for e in logged_server.entries():
        if e.db == db_.name and e.app == app and e.severity == "ERROR" and e.message == "deadlock detected":
            detail = e.raw.get("detail") or ""
            doing = {int(pid): _staged_of(text, tags) for pid, text in _PROCESS.findall(detail)}
            logged[_client_part(detail)] = doing
    assert load.deadlocks_seen == len(logged) == len(load.deadlocks), (load.deadlocks_seen, len(logged))
    assert load.deadlocks_seen >= 50, load.deadlocks_seen  # deadlock-heavy by construction
    named = unsure = 0
    for d in load.deadlocks:
        doing = logged[d.detail]
        pids = [(int(a), int(b)) for a, b in re.findall(r"Process (\d+) waits for .*?; blocked by process (\d+)\.", d.detail)]
        assert len(pids) == len(d.cycle)
        for (a, b), (wname, _mode, _what, hname) in zip(pids, d.cycle, strict=True):
            for pid, name in ((a, wname), (b, hname)):
                m = _NAME.match(name)
                if m:
                    assert int(m.group(1)) == doing[pid], (d, doing)
                    named += 1
                else:
                    assert name == f"#? (pid {pid})", name  # every process was one of the load's
                    unsure += 1
            assert wname != hname or wname.startswith("#?"), d  # never a query waiting for itself
    assert named + unsure == 4 * len(load.deadlocks)
    # nearly all are certain (the few that are not say so)
    assert unsure <= 0.05 * (named + unsure), (named, unsure)
    print(f"\n[attribution] {len(load.deadlocks)} deadlocks, {named} names checked against the server log, {unsure} unsure")


def _client_part(log_detail: str) -> str:
    """The DETAIL as the client received it: the log's adds a "Process N: statement" line per process."""
    return "\n".join(line for line in log_detail.split("\n") if not _PROCESS.match(line))


def test_a_load_puts_no_sleep_on_the_query_that_does_not_sleep(qshell):
    """One worker alternating a sleeping query and one that never waits: the samples taken
    while the sleep ran go to the sleep, none to ``SELECT 1`` (which a sample finding the
    worker on the next query used to get)."""
    r = qshell("\\add SELECT pg_sleep(0.05);\n\\add SELECT 1 AS attrib_no_sleep;\n\\go 1 for 3s\n",
               "--format", "json")
    assert r.code == 0, r.err
    rec = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")][-1]
    assert rec["type"] == "load" and rec["samples"] > 20, rec
    sleep, select = rec["queries"]
    assert dict((w["event"], w["share"]) for w in sleep["waits"]).get("Timeout:PgSleep", 0) > 0.8, sleep["waits"]
    assert not any(w["event"] == "Timeout:PgSleep" for w in select["waits"]), select["waits"]


def test_a_run_puts_no_sleep_on_the_query_that_does_not_sleep(db):
    """The same in a plain run, whose samples are attributed after it: sleeps and
    ``SELECT 1`` alternating on one worker."""
    queries = [q for _ in range(15) for q in ("SELECT pg_sleep(0.03)", "SELECT 1")]
    run = QueryPool(db, queries, 1, sampler=Sampler(db)).run()
    assert run.samples > 10
    slept = [q for q in run.queries if "pg_sleep" in q.sql]
    assert sum(1 for q in slept if q.waits and q.waits[0][0] == "Timeout:PgSleep") >= len(slept) // 2
    for q in run.queries:
        if "pg_sleep" not in q.sql:
            assert not any(name == "Timeout:PgSleep" for name, _ in q.waits), q
