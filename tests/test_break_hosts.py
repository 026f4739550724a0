"""Found by a helper trying to break multi-host targets and the pooler: a refused first
host, the capacity check without load balancing, an unparsable \\sweep target, waits
behind a pool smaller than N. Each failed before its fix."""
from __future__ import annotations

import io

import pytest

pytest.register_assert_rewrite("tests.infra")

from qshell.cli import main  # noqa: E402
from tests.infra import free_port  # noqa: E402

pytest_plugins = ["tests.infra"]


def run(target: str, script: str, hist) -> tuple[int, str, str]:  # noqa: ANN001
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(hist), "--format", "csv", target], stdin=io.BytesIO(script.encode()),
                stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_refused_first_host_falls_over_to_the_next_as_libpq_does(replica_set, tmp_path):
    """libpq closes the refused socket and opens the next host's, often on the same fd
    number: a watcher cached for the old socket never fires (was: 'connection timed out
    after 15 s', exit 2, for the session and for every worker)."""
    down = free_port()  # nothing listens there: connection refused
    target = f"host=127.0.0.1,127.0.0.1 port={down},{replica_set.primary_port} dbname=postgres user=postgres"
    code, out, err = run(target, "\\add SELECT 1;\n\\add SELECT 2;\n\\go 2\n", tmp_path / "h")
    assert code == 0, err
    assert out.count(f"127.0.0.1:{replica_set.primary_port},primary") == 2, out


def test_capacity_check_without_load_balancing_counts_the_first_host_only(replica_set, tmp_path):
    """Without load_balance_hosts every worker goes to the first host that target_session_attrs
    accepts, and libpq does not try the next host on 'too many clients' (53300, only on
    57P03): summing the servers lets N run that fails. Expected: refused before anything
    runs, exit 1, as on one server."""
    ports = (replica_set.primary_port,) + replica_set.replica_ports
    target = (f"host={','.join(['127.0.0.1'] * len(ports))} port={','.join(map(str, ports))}"
              " dbname=postgres user=postgres")
    stage = "".join("\\add SELECT pg_sleep(0.2);\n" for _ in range(100))
    code, out, err = run(target, stage + "\\go 100\n", tmp_path / "h")
    assert "sorry, too many clients" not in err
    assert "cannot run 100 workers" in err, err
    assert f"127.0.0.1:{replica_set.primary_port} (primary)" in err and "can take" in err
    assert code == 0  # psql's exit status: the script ran to its end


def test_a_sweep_target_that_is_not_a_conninfo_is_one_usage_error(replica_set, tmp_path):
    """targets.merge caught psycopg2.extensions.ProgrammingError, which does not exist:
    every unparsable target was 'internal error: AttributeError …'."""
    for target in ("garbage", "'port=1 password=xyzSECRET", "\"password=xyzSECRET port\""):
        code, out, err = run(replica_set.primary_dsn, f"\\add SELECT 1;\n\\sweep 1 on {target}\n\\list\n", tmp_path / "h")
        assert "internal error" not in err and "AttributeError" not in err, err
        assert "not a conninfo" in err or "No closing quotation" in err, err
        assert "xyzSECRET" not in err + out
        assert code == 0  # psql's exit status: the script ran to its end


def test_behind_a_pool_smaller_than_n_waits_go_to_the_query_that_ran_on_the_backend(pgbouncer, tmp_path):
    """N above PgBouncer's pool size: every worker starts at once, and a query's span
    (start_s … end_s) includes its wait in the pooler's queue, so the sampler's "query on
    this backend at t" (bisection by start) picks a fast query that was still queued:
    the pg_sleep queries got no waits and the fast ones Timeout:PgSleep 100%."""
    import json

    stage = "".join("\\add SELECT pg_sleep(0.2), 'sleep';\n" for _ in range(4))
    stage += "".join("\\add SELECT 'fast';\n" for _ in range(4))
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(tmp_path / "h"), "--format", "json", pgbouncer.dsn],
                stdin=io.BytesIO((stage + "\\go 8\n").encode()), stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    queries = [r for r in map(json.loads, out.getvalue().splitlines()) if r["type"] == "query"]
    events = {q["index"]: {w["event"] for w in q["waits"]} for q in queries}
    assert all("Timeout:PgSleep" in events[i] for i in range(1, 5)), events
    assert not any("Timeout:PgSleep" in events[i] for i in range(5, 9)), events
