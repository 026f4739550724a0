"""Attribution by time: every sample, lock edge and deadlock partner goes to the execution
whose interval on that backend holds the moment it was seen, checked against what the
server itself recorded (its log: each deadlock's DETAIL with the statement every process
of the cycle was running when it was detected) or against waits known by construction
(``SELECT 1`` never sleeps)."""
from __future__ import annotations

import json
import re
import time

import gevent
import gevent.event
import pytest

from qshell.engine.execute import TxMode
from qshell.engine.load import LoadPool
from qshell.engine.pool import Database, QueryPool
from qshell.engine.sampler import Sampler
from qshell.records.results import Status

pytest_plugins = ["tests.oracle"]

_PROCESS = re.compile(r"^Process (\d+): (.*)$", re.M)
_NAME = re.compile(r"^#(\d+)(?: \(another execution\))?$")


def _staged_of(text: str, tags: list[str]) -> int | None:
    """The staged index (1-based) whose tag the logged statement holds."""
    hits = [i for i, tag in enumerate(tags, start=1) if tag in text]
    return hits[0] if len(hits) == 1 else None


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_deadlock_partners_are_named_as_the_server_logged_them(logged_server, workers):
    """A deadlock-heavy load (two staged blocks updating two rows in opposite orders,
    retried): every deadlock the server logged is one the load saw, and each process of
    each cycle is named by the staged query the server says it was running at the
    detection (the log's DETAIL adds "Process N: statement") — never another, never the
    victim in place of its partner. With 3 workers one staged query runs on two at once:
    a cycle may hold two executions of it (the other one named as such)."""
    tags = ["attrib_dl_one", "attrib_dl_two"]
    db_ = logged_server.database("attrib_dl", settings={"deadlock_timeout": "20ms"},
                                 setup="CREATE TABLE dl (id int PRIMARY KEY, v int); INSERT INTO dl VALUES (1, 0), (2, 0)")
    app = f"attrib-deadlocks-{workers}"
    queries = [
        f"DO $$BEGIN UPDATE dl SET v = v + 1 WHERE id = 1; PERFORM pg_sleep(0.002); UPDATE dl SET v = v + 1 WHERE id = 2; END$$ /* {tags[0]} */",
        f"DO $$BEGIN UPDATE dl SET v = v + 1 WHERE id = 2; PERFORM pg_sleep(0.002); UPDATE dl SET v = v + 1 WHERE id = 1; END$$ /* {tags[1]} */",
    ]
    db = Database(db_.dsn(app))
    try:
        pool = LoadPool(db, queries, workers, 10.0, mode=TxMode(rollback=True), retries=3, sample=True)
        pool.max_deadlocks = 100_000
        load = pool.run()
    finally:
        db.close()
    logged = _logged_deadlocks(logged_server, db_.name, app, tags)
    assert load.deadlocks_seen == len(logged) == len(load.deadlocks), (load.deadlocks_seen, len(logged))
    assert load.deadlocks_seen >= 50, load.deadlocks_seen  # deadlock-heavy by construction
    # the sampled lock graph: no query waits for itself; every holder is one of the load's
    assert load.samples > 50 and load.lock_waits
    for edge in load.lock_waits:
        assert edge.waiter != edge.holder and _NAME.match(edge.waiter) and _NAME.match(edge.holder), edge
    named, unsure = _check_names(load.deadlocks, logged)
    print(f"\n[attribution] N={workers}: {len(load.deadlocks)} deadlocks, {named} names checked against the server log, {unsure} unsure")


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "unsure_share"), [(2, 0.05), (4, 0.15)])
def test_deadlocks_of_a_run_are_named_as_the_server_logged_them(logged_server, workers, unsure_share):
    """The same check for a plain run, whose deadlocks are named after it from every try's
    interval: 40 staged blocks, alternately in one order and the other, retried. On 4
    workers cycles of 3 and 4 processes come: a process the victim does not wait for
    directly has a looser bound (see conflicts.deadlock_names), more of them are unsure."""
    n = 40
    tags = [f"<attrib run {i}>" for i in range(1, n + 1)]
    db_ = logged_server.database("attrib_rdl", settings={"deadlock_timeout": "20ms"},
                                 setup="CREATE TABLE dl (id int PRIMARY KEY, v int); INSERT INTO dl VALUES (1, 0), (2, 0)")
    app = f"attrib-run-deadlocks-{workers}"
    order = ((1, 2), (2, 1))
    queries = [f"DO $$BEGIN UPDATE dl SET v = v + 1 WHERE id = {order[i % 2][0]}; PERFORM pg_sleep(0.002);"
               f" UPDATE dl SET v = v + 1 WHERE id = {order[i % 2][1]}; END$$ /* {tag} */" for i, tag in enumerate(tags)]
    db = Database(db_.dsn(app))
    try:
        pool = QueryPool(db, queries, workers, mode=TxMode(rollback=True), retries=10)
        pool.max_deadlocks = 10_000
        run = pool.run()
    finally:
        db.close()
    logged = _logged_deadlocks(logged_server, db_.name, app, tags)
    assert pool.deadlocks_seen == len(logged) == len(run.deadlocks) >= 1, (pool.deadlocks_seen, len(logged))
    named, unsure = _check_names(run.deadlocks, logged, unsure_share)
    print(f"\n[attribution] a run on N={workers}: {len(run.deadlocks)} deadlocks, {named} names checked against"
          f" the server log, {unsure} unsure")


def _logged_deadlocks(server, dbname: str, app: str, tags: list[str]) -> dict[str, dict[int, int | None]]:
    """Each deadlock the server logged for ``app``: its DETAIL as the client got it ->
    {pid: the staged index of the statement that process was running}."""
    logged = {}
    for e in server.entries():
        if e.db == dbname and e.app == app and e.severity == "ERROR" and e.message == "deadlock detected":
            detail = e.raw.get("detail") or ""
            logged[_client_part(detail)] = {int(pid): _staged_of(text, tags) for pid, text in _PROCESS.findall(detail)}
    return logged


def _check_names(deadlocks, logged: dict, unsure_share: float = 0.05) -> tuple[int, int]:  # noqa: ANN001
    """Every name of every cycle against the log: (names right, names "#? (pid N)"); a wrong one fails."""
    named = unsure = 0
    for d in deadlocks:
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
                    assert name == f"#? (pid {pid})", name  # every process was one of the run's
                    unsure += 1
            assert wname != hname or wname.startswith("#?"), d  # never a query waiting for itself
    assert named + unsure == sum(2 * len(d.cycle) for d in deadlocks)
    # nearly all are certain (the few that are not say so)
    assert unsure <= unsure_share * (named + unsure), (named, unsure)
    return named, unsure


def _client_part(log_detail: str) -> str:
    """The DETAIL as the client received it: the log's adds a "Process N: statement" line per process."""
    return "\n".join(line for line in log_detail.split("\n") if not _PROCESS.match(line))


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_no_query_is_blocked_for_longer_than_it_ran(db):
    """A sample stands for the sampling step before it; the part of that step before a
    query began is not the query's: blocked_by and the lock edges never exceed the
    waiter's time on its backend (a 16 ms query showed 'blocked by #1 20.0 ms')."""
    db.execute("DROP TABLE IF EXISTS shortblock")
    db.execute("CREATE TABLE shortblock (id int PRIMARY KEY, v int)")
    db.execute("INSERT INTO shortblock VALUES (1, 0)")
    queries = ["UPDATE shortblock SET v = v + 1 WHERE id = 1; SELECT pg_sleep(0.012)"] * 4
    seen = 0
    for _ in range(6):
        run = QueryPool(db, queries, 4, mode=TxMode(rollback=True), sampler=Sampler(db)).run()
        assert all(q.status is Status.OK for q in run.queries), [q.error for q in run.queries]
        ran = {f"#{q.index}": q.end_s - q.on_backend_s for q in run.queries}
        for q in run.queries:
            seen += bool(q.blocked_by)
            assert sum(t for _, t in q.blocked_by) <= ran[f"#{q.index}"] + 1e-9, (q.blocked_by, ran[f"#{q.index}"])
        for edge in run.lock_waits:
            assert edge.seconds <= ran[edge.waiter] + 1e-9, (edge, ran[edge.waiter])
    assert seen, "no query was seen blocked: the test saw nothing"


# -- blocked by yourself ----------------------------------------------------------------
_SELF_LOCK = """\
DROP TABLE IF EXISTS selflock;
CREATE TABLE selflock (id int);
\\set sample {sample}
BEGIN;
SELECT pg_backend_pid() AS my_pid;
INSERT INTO selflock VALUES (1);
LOCK TABLE selflock;
\\add SELECT count(*) FROM selflock;
{go}
\\echo the script goes on
\\list
SELECT count(*) AS in_my_transaction FROM selflock;
COMMIT;
SELECT count(*) AS committed FROM selflock;
"""


def _my_pid(out: str) -> int:
    lines = out.splitlines()
    return int(lines[lines.index(next(line for line in lines if line.strip() == "my_pid")) + 2].strip())


@pytest.mark.slow
def test_a_run_blocked_by_your_own_transaction_says_so_and_the_script_goes_on(qshell_proc):
    """``BEGIN; LOCK TABLE t; \\add SELECT … FROM t; \\go 1`` used to hang for ever: the worker
    waits for the user's own session, which waits at the prompt. It is told within about a
    second (the pid named is the session's own, as it reported it itself), the run's query
    is cancelled, the script goes on with exit status 1, the staged set is kept, and the
    user's transaction is still open (its row seen, then committed) — with the sampler
    (the lock line names "your session") and without it (the watch needs none)."""
    for sample, go in (("on", "\\go 1"), ("off", "\\go 1"), ("off", "\\go 1 for 5s")):
        t0 = time.monotonic()
        r = qshell_proc(_SELF_LOCK.format(sample=sample, go=go), timeout=60)
        took = time.monotonic() - t0
        assert r.code == 0, (r.code, r.err)  # psql's exit status: the script ran to its end
        pid = _my_pid(r.out)
        said = f"blocked by your own session's open transaction (pid {pid}): COMMIT or ROLLBACK it first"
        assert said in r.err, r.err
        assert took < 30, took  # never a hang (it used to be one)
        if "for" not in go:  # the cancelled query ended after the cancel: inside the run's wall, not past it
            m = re.search(r"wall ([\d.]+) (ms|s) · sum ([\d.]+) (ms|s)", r.out)
            assert m, r.out
            wall, run = (float(m.group(i)) * (1 if m.group(i + 1) == "ms" else 1000) for i in (1, 3))
            assert run <= wall, r.out
        if "for" in go:  # the load stopped there, not after its 5 s
            m = re.search(r"executions [\d,]+ in ([\d.]+) (ms|s)\b", r.out)
            assert m and float(m.group(1)) * (0.001 if m.group(2) == "ms" else 1) < 3, r.out
        assert "the script goes on" in r.out and "1  SELECT count(*) FROM selflock" in r.out, r.out
        mine = r.out.split("in_my_transaction")[1].splitlines()[2].strip()
        committed = r.out.split("committed")[1].splitlines()[2].strip()
        assert mine == committed == "1", r.out
        assert "Traceback" not in r.err
        if sample == "on":
            assert f"#1 → your session (pid {pid}) · AccessShareLock (relation) · selflock" in r.out, r.out


@pytest.mark.slow
def test_the_engine_tells_a_worker_waiting_for_the_own_session_from_one_waiting_for_another(db, dsn):
    """The watch names the user's own session only: a worker blocked by another session
    (an advisory lock held elsewhere) is left waiting until that one lets go, as before."""
    import psycopg2

    from qshell.engine.conflicts import OwnSession

    other = psycopg2.connect(dsn)
    other.autocommit = True
    try:
        cur = other.cursor()
        cur.execute("SELECT pg_advisory_lock(4242), pg_backend_pid()")
        holder = cur.fetchone()[1]
        unlock = gevent.spawn_later(1.5, lambda: other.cursor().execute("SELECT pg_advisory_unlock(4242)"))
        host = f"{other.info.host}:{other.info.port}"
        db.own_session = lambda: OwnSession(host, holder + 100_000, True)  # someone else: not the holder
        run = QueryPool(db, ["SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)"], 1).run()
        assert run.queries[0].status is Status.OK and run.queries[0].total_s > 1.0
        # the unlock's own result read before the connection is used again: psycopg2 holds
        # the connection's (native) lock while a green statement waits, and a second use of
        # it from this greenlet would block the whole process on that lock (it hung CI once)
        unlock.join()
        cur.execute("SELECT pg_advisory_lock(4242)")
        db.own_session = lambda: OwnSession(host, holder, False)  # now it is "your session"
        pool = QueryPool(db, ["SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)"], 1)
        t0 = time.monotonic()
        run = pool.run()
        assert time.monotonic() - t0 < 3
        assert run.queries[0].status is Status.CANCELLED and not run.interrupted
        assert pool.blocked_by_you is not None and f"(pid {holder})" in pool.blocked_by_you
        assert "outside any transaction" in pool.blocked_by_you
    finally:
        db.own_session = None
        other.close()


@pytest.mark.slow
def test_a_loads_waits_and_lock_edges_agree_with_pg_stat_activity_sampled_apart(db, dsn):
    """A load's wait events and lock-wait edges against a second sampler of the test's
    own, which names each backend by the statement text ``pg_stat_activity`` shows for it
    (not by time): every edge qshell names was seen by it, and no wait event qshell gives
    a query for a good part of its samples went unseen on its text (and the sleep is only
    on the query that sleeps)."""
    import psycopg2

    from qshell.engine.green import make_green

    make_green()
    tags = ["attrib_lg_hold", "attrib_lg_update", "attrib_lg_quick"]
    db.execute("DROP TABLE IF EXISTS attrib_lg")
    db.execute("CREATE TABLE attrib_lg (id int PRIMARY KEY, v int)")
    db.execute("INSERT INTO attrib_lg VALUES (1, 0)")
    queries = [f"SELECT pg_sleep(0.03) /* {tags[0]} */ FROM (SELECT * FROM attrib_lg WHERE id = 1 FOR UPDATE) s",
               f"UPDATE attrib_lg SET v = v + 1 WHERE id = 1 /* {tags[1]} */",
               f"SELECT 1 /* {tags[2]} */"]
    seen_events: dict[int, set[str]] = {1: set(), 2: set(), 3: set()}
    seen_edges: set[tuple[int, int]] = set()
    stop = gevent.event.Event()

    def sample_apart() -> None:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        cur = conn.cursor()
        try:
            while not stop.wait(0.01):
                cur.execute("SELECT pid, query, state, wait_event_type, wait_event, pg_blocking_pids(pid)"
                            " FROM pg_stat_activity WHERE query LIKE '%attrib\\_lg\\_%' AND pid <> pg_backend_pid()")
                rows = cur.fetchall()
                text_of = {pid: query for pid, query, *_ in rows}
                for _pid, query, state, wtype, wevent, blockers in rows:
                    index = _staged_of(query, tags)
                    if index is None or state != "active":
                        continue
                    seen_events[index].add(f"{wtype}:{wevent}" if wtype else "CPU")
                    for b in blockers:
                        holder = _staged_of(text_of.get(b, ""), tags)
                        if holder is not None:
                            seen_edges.add((index, holder))
        finally:
            conn.close()

    apart = gevent.spawn(sample_apart)
    try:
        load = LoadPool(db, queries, 3, 4.0, mode=TxMode(rollback=True), sample=True).run()
    finally:
        stop.set()
        apart.join()
    assert load.executions > 20 and load.samples > 50
    edges = set()
    for e in load.lock_waits:
        w, h = _NAME.match(e.waiter), _NAME.match(e.holder)
        assert w and h, e  # every blocker is one of the load's
        edges.add((int(w.group(1)), int(h.group(1))))
    assert (2, 1) in edges and (2, 1) in seen_edges, (edges, seen_edges)
    assert edges <= seen_edges, (edges, seen_edges)
    for index, shares in load.waits.items():
        assert "Timeout:PgSleep" not in dict(shares) or index == 1, (index, shares)  # only #1 sleeps
        # what it mostly waited on was seen on its own text (a rare event may be missed apart)
        events = {name for name, share in shares if share >= 0.05}
        assert events - {"CPU"} <= seen_events[index], (index, shares, seen_events)


@pytest.mark.slow
def test_a_runs_lock_edges_are_waits_the_server_logged(logged_server):
    """Every lock-wait edge of a plain run (waiter → holder, seen for 0.1 s or more) is a
    wait the server logged itself (``log_lock_waits``: "process N still waiting …", the
    holder in its DETAIL, the waiter's STATEMENT; the holder's statement: the last one
    its backend logged before), with the same staged queries on both ends."""
    n = 6
    tags = [f"<attrib edge {i}>" for i in range(1, n + 1)]
    db_ = logged_server.database("attrib_lw", settings={"deadlock_timeout": "20ms", "log_lock_waits": "on"},
                                 setup="CREATE TABLE lw (id int PRIMARY KEY, v int); INSERT INTO lw VALUES (1, 0), (2, 0)")
    app = "attrib-lock-waits"
    queries = [
        f"SELECT pg_sleep(0.6) /* {tags[0]} */ FROM (SELECT * FROM lw WHERE id = 1 FOR UPDATE) s",
        f"UPDATE lw SET v = v + 1 WHERE id = 1 AND pg_sleep(0.2) IS NOT NULL /* {tags[1]} */",
        f"UPDATE lw SET v = v + 1 WHERE id = 1 /* {tags[2]} */",
        f"SELECT pg_sleep(0.4) /* {tags[3]} */ FROM (SELECT * FROM lw WHERE id = 2 FOR UPDATE) s",
        f"UPDATE lw SET v = v + 1 WHERE id = 2 /* {tags[4]} */",
        f"SELECT 1 /* {tags[5]} */",
    ]
    db = Database(db_.dsn(app))
    try:
        run = QueryPool(db, queries, n, mode=TxMode(rollback=True), sampler=Sampler(db)).run()
    finally:
        db.close()
    assert all(q.status is Status.OK for q in run.queries), run.queries
    last: dict[int, str] = {}  # per backend the statement it logged last
    logged: set[tuple[int | None, int | None]] = set()
    for e in logged_server.entries():
        if e.db != db_.name or e.app != app:
            continue
        if e.severity == "LOG" and e.message.startswith("statement: "):
            last[e.pid] = e.message
        m = re.match(r"process (\d+) still waiting for ", e.message)
        if m and e.severity == "LOG":
            holders = re.search(r"Process(?:es)? holding the lock: ([\d, ]+)\.", e.raw.get("detail") or "")
            for h in (holders.group(1).split(", ") if holders else ()):
                logged.add((_staged_of(e.statement or "", tags), _staged_of(last.get(int(h), ""), tags)))
    edges = {(int(w.waiter[1:]), int(w.holder[1:])) for w in run.lock_waits if w.seconds >= 0.1}
    assert edges, run.lock_waits  # which waits for which depends on which came first
    assert edges <= logged, (edges, logged)


def test_a_blocker_whose_transaction_ended_keeps_the_age_it_was_seen_holding_with(dsn):
    """The sampler describes another session a sample named as a blocker with one more
    query; when that session's transaction has ended in between (its xact_start gone, CI saw
    it once under load), the age it was last seen holding with stands instead of none."""
    import psycopg2

    from qshell.engine.sampler import Sampler

    holder = psycopg2.connect(dsn)
    side = psycopg2.connect(dsn)
    side.autocommit = True
    try:
        hcur = holder.cursor()
        hcur.execute("SELECT pg_backend_pid()")
        pid = hcur.fetchone()[0]
        time.sleep(0.2)
        sampler = Sampler(None)
        row = (12345, "Lock", "relation", "active", [pid], None)  # a sampled backend it blocks
        with side.cursor() as cur:
            sampler._describe(cur, None, [12345], [row])
            (seen,) = sampler.sessions.values()
            assert seen.state == "idle in transaction" and seen.xact_age_s >= 0.2
            holder.commit()  # the transaction ends before the next description
            time.sleep(0.1)
            sampler._describe(cur, None, [12345], [row])
        (again,) = sampler.sessions.values()
        assert again.xact_age_s == seen.xact_age_s and again.state == "idle in transaction"  # (seen so once of two)
    finally:
        holder.close()
        side.close()
