"""\\set explain analyze: each staged query's plan figures, parallel workers planned and
launched under concurrency, \\compare of plans, and tx rollback with EXPLAIN ANALYZE."""
from __future__ import annotations

import json
import os

import pytest

from qshell.engine import plans
from tests.test_resources import queries, records

PARALLEL = """SET max_parallel_workers = 2;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
"""


@pytest.fixture
def name() -> str:
    return f"plan_{os.getpid()}"


@pytest.mark.slow
def test_four_parallel_queries_at_n4_share_two_parallel_workers_and_compare_shows_it(qshell, name):
    """max_parallel_workers = 2 is shared by every session: at N=1 each query gets the two
    workers it planned, at N=4 (all four at once) together they launch fewer than planned;
    \\compare of the two runs names the difference."""
    r = qshell(f"""
CREATE TABLE {name}_p AS SELECT g FROM generate_series(1, 1000000) g;
ANALYZE {name}_p;
{PARALLEL}
\\set explain analyze
\\add SELECT count(*) FROM {name}_p WHERE g % 7 = 3;
\\add SELECT count(*) FROM {name}_p WHERE g % 7 = 3;
\\add SELECT count(*) FROM {name}_p WHERE g % 7 = 3;
\\add SELECT count(*) FROM {name}_p WHERE g % 7 = 3;
\\set format json
\\go 1
\\go 4
\\set format aligned
\\compare -2 -1
DROP TABLE {name}_p;
""")
    assert r.code == 0, r.err
    alone, together = queries(r.out)
    for q in alone + together:
        assert q["workers_planned"] == 2 and q["plan"]["workers_planned"] == 2
        assert q["rowcount"] == 1 and q["plan"]["rows"] == 1 and q["plan"]["total_ms"] > 0
        assert any(n["node"].startswith("Parallel Seq Scan") for n in q["plan"]["nodes"])
        assert q["sql"].startswith("SELECT count(*)")  # the staged text, not the EXPLAIN around it
    launched_alone = sum(q["workers_launched"] for q in alone)
    launched_together = sum(q["workers_launched"] for q in together)
    assert launched_together < 8  # fewer launched than planned, for some
    assert launched_together < launched_alone
    run = [rec for rec in records(r.out) if rec["type"] == "run"][1]
    assert run["workers_planned"] == 8 and run["workers_launched"] == launched_together
    compare = r.out[r.out.index("run "):]
    assert "plan / resources" in compare
    assert "workers 2/2 → " in compare or "workers 1/2 → 0/2" in compare


def test_the_plan_in_the_text_output_and_utility_statements_untouched(qshell, name):
    r = qshell(f"""
CREATE TABLE {name}_t (id int PRIMARY KEY, v int);
INSERT INTO {name}_t SELECT g, g FROM generate_series(1, 5000) g;
\\set explain analyze
\\add SELECT v FROM {name}_t ORDER BY v DESC LIMIT 3;
\\add CREATE INDEX ON {name}_t (v);
\\go 1
DROP TABLE {name}_t;
""")
    assert r.code == 0, r.err
    assert "EXPLAIN ANALYZE 3 rows" in r.out
    assert "plan " in r.out and "Limit" in r.out and "Sort" in r.out and "Seq Scan on " in r.out
    assert "CREATE INDEX" in r.out  # not explainable: run as it is
    assert "plan ms" in r.out and "workers" in r.out  # the summary's columns


def test_explain_analyze_executes_but_tx_rollback_undoes_it(qshell, name):
    r = qshell(f"""
CREATE TABLE {name}_r (id int PRIMARY KEY, v int);
INSERT INTO {name}_r VALUES (1, 100);
\\set explain analyze
\\set tx rollback
\\add UPDATE {name}_r SET v = v - 10 WHERE id = 1;
\\set format json
\\go 1
\\set format aligned
SELECT v FROM {name}_r;
\\set tx autocommit
\\go 1
SELECT v AS after_commit FROM {name}_r;
DROP TABLE {name}_r;
""")
    assert r.code == 0, r.err
    first = queries(r.out)[0][0]
    assert first["plan"]["nodes"][0]["node"] == f"ModifyTable on {name}_r"
    assert first["workers_planned"] == 0 and first["workers_launched"] == 0
    after = r.out[r.out.index(" v "):]
    assert "100" in after.split("after_commit")[0]  # rolled back
    assert "90" in r.out.split("after_commit")[1]  # autocommit: EXPLAIN ANALYZE executed it


def test_an_error_position_is_in_the_staged_text(qshell):
    r = qshell("\\set explain analyze\n\\set format json\n\\add SELECT nosuchcolumn;\n\\go 1\n")
    q = queries(r.out)[0][0]
    assert q["status"] == "error" and q["position"] == 8 and q["sql"] == "SELECT nosuchcolumn"


def test_summarize_and_difference_on_a_known_plan():
    doc = json.dumps([{"Plan": {"Node Type": "Aggregate", "Partial Mode": "Finalize", "Actual Total Time": 5.0,
                                "Actual Rows": 1, "Actual Loops": 1, "Shared Hit Blocks": 10, "Shared Read Blocks": 3,
                                "Temp Written Blocks": 0,
                                "Plans": [{"Node Type": "Gather", "Workers Planned": 2, "Workers Launched": 1,
                                           "Actual Total Time": 4.9, "Actual Rows": 2, "Actual Loops": 1,
                                           "Plans": [{"Node Type": "Seq Scan", "Parallel Aware": True,
                                                      "Relation Name": "t", "Actual Total Time": 3.0,
                                                      "Actual Rows": 50, "Actual Loops": 2}]}]},
                       "Planning Time": 0.1, "Execution Time": 5.1}])
    p = plans.summarize(doc)
    assert (p.workers_planned, p.workers_launched, p.rows, p.total_ms) == (2, 1, 1, 5.1)
    assert [n.kind for n in p.nodes] == ["Finalize Aggregate", "Gather", "Parallel Seq Scan on t"]
    a = {"plan": {**p.record(), "workers_launched": 2}}
    b = {"plan": p.record()}
    assert plans.difference(a, b) == "workers 2/2 → 1/2"
    assert plans.difference(b, b) == ""


def test_report_has_a_resources_and_plans_section(qshell, name, tmp_path):
    page = tmp_path / "why.html"
    r = qshell(f"""
CREATE TABLE {name}_h AS SELECT g FROM generate_series(1, 20000) g;
\\set explain analyze
\\add SELECT count(*) FROM {name}_h;
\\add SELECT 1 AS "<script>x</script>";
\\go 2
\\report {page}
DROP TABLE {name}_h;
""")
    assert r.code == 0, r.err
    html = page.read_text()
    assert "Why is it slow: resources and plans" in html
    section = html[html.index("Why is it slow"):]
    assert "server ms" in section and "plan ms" in section and f"Seq Scan on {name}_h" in section
    assert "<script>x" not in html  # data stays escaped
    assert "resources.shared_hit" not in html  # a section of its own, not extra columns


def test_explain_analyze_runs_each_text_once_and_a_group_as_it_is(qshell, name):
    """In autocommit with resources on: a staged INSERT under EXPLAIN ANALYZE is executed
    once (in its run, in place of the statement; nothing runs it before), and a ``\\;``
    group of two INSERTs and a SELECT is neither wrapped nor planned beforehand: two rows,
    not three (the planning step ran its second INSERT), and it says why it has no plan and
    no figures."""
    r = qshell(f"""
CREATE TABLE {name}_once (id int);
\\set explain analyze
\\set resources on
\\add INSERT INTO {name}_once VALUES (1);
\\add INSERT INTO {name}_once SELECT 10 \\; INSERT INTO {name}_once SELECT 20 \\; SELECT 1;
\\set format json
\\go 1
\\set format aligned
SELECT string_agg(id::text, ',' ORDER BY id) AS ids FROM {name}_once;
DROP TABLE {name}_once;
""")
    assert r.code == 0, r.err
    assert r.out.split(" ids ")[1].split()[1] == "1,10,20"
    single, group = queries(r.out)[0]
    assert single["plan"]["nodes"][0]["node"] == f"ModifyTable on {name}_once" and single["resources"]["calls"] == 1
    assert "plan" not in group and group["no_plan"] == "several statements"
    assert group["no_resources"] == "several statements"
