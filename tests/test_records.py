"""The fast renderings say exactly what the slow ones said: a query record built as text
equals the record built as a dict; the summaries drawn without tabulate equal tabulate's."""
from __future__ import annotations

import json
import random

from qshell.output import json_lines, styles
from qshell.records.results import Column, QueryResult, RunResult, ServerMessage, Status

RESULTS = [
    QueryResult(index=1, sql="SELECT 1", status=Status.OK, worker=0, pid=123, columns=(Column("?column?", 23),),
                rows=(("1",),), rowcount=1, command="SELECT 1", wait_s=0.0012345, exec_s=0.0001, fetch_s=0.00002,
                start_s=0.1, end_s=0.2),
    QueryResult(index=2, sql="SELECT 'é\"\\n\x1b'", status=Status.ERROR, error="ERROR: x\\ny", sqlstate="22012",
                diag=ServerMessage(primary="x", detail="dé", context="c\nd", position=7), notices=("NOTICE:  a", "WARNING:  ü")),
    QueryResult(index=3, sql="SELECT g", status=Status.OK, worker=7, pid=99, columns=(Column("g", 23), Column("n\u2028", 25)),
                rows=(("1", None), ("2", "x")), rowcount=5, command="SELECT 5", waits=(("Lock:tx", 0.123456), ("CPU", 0.876544)),
                blocked_by=(("#1", 0.7918), ("pid 4", 1e-05)), exec_s=1e-9, fetch_s=3.0),
    QueryResult(index=4, sql="", status=Status.CANCELLED, error="cancelled"),
    QueryResult(index=5, sql="x", status=Status.TIMEOUT, sqlstate="57014", notices=("n",)),
    QueryResult(index=6, sql="SELECT NULL", status=Status.OK, worker=1, pid=5, columns=(Column("x", 25),), rows=((None,),),
                rowcount=1, command="SELECT 1"),
]


def test_a_record_built_as_text_is_the_record_built_as_a_dict():
    for run_id in ("18f-1", None):
        for slow in ({}, {1: 1.23456789, 3: 0.5}):
            enc = json_lines.RecordEncoder(run_id, slow)
            for q in RESULTS * 2:  # twice: the cached texts too
                for rows in (True, False):
                    want = json_lines.query_record(q, run_id, rows=rows, slowdown=slow.get(q.index))
                    head = enc.head(q)
                    got = json.loads(enc.line(head, q) if rows else head)
                    assert got == want and list(got) == list(want)  # same fields, values, order


def test_run_json_is_the_records_then_the_run():
    run = RunResult(n=2, started_at=1.7e9, wall_s=0.5, queries=tuple(RESULTS))
    lines = [json.loads(x) for x in json_lines.run_json(run, "r-1").split("\n")]  # (U+2028 stays in a line)
    assert [x["index"] for x in lines[:-1]] == [q.index for q in RESULTS]
    assert lines[-1] == json_lines.run_record(run, "r-1") and lines[-1]["failed"] == run.failed == 3
    assert lines[-1]["sum_ms"] == round(run.sum_s * 1000, 3) and lines[-1]["bound_ms"] == round(run.bound_s * 1000, 3)
    assert lines[-1]["overlap"] == round(run.overlap, 4) and lines[-1]["efficiency"] == round(run.efficiency, 4)


def test_summaries_drawn_without_tabulate_are_tabulates():
    import tabulate

    styles._tabulate()  # the "aligned" format registered
    rnd = random.Random(3)
    alphabet = ["a", " ", "é", "漢", "xxxxx", "", "\u0301", "-", "|", "+", "  ", "😀", "1", "0.5", "×", "%"]

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))

    for _ in range(2000):
        ncol = rnd.randint(1, 5)
        headers = [text() for _ in range(ncol)]
        rows = [[rnd.choice([None, rnd.randint(-5, 100000), text(), text()]) for _ in range(ncol)]
                for _ in range(rnd.randint(1, 4))]
        align = [rnd.choice(["left", "right"]) for _ in range(ncol)]
        want = tabulate.tabulate(rows, headers=headers, tablefmt="aligned", disable_numparse=True, colalign=align)
        assert styles._simple_aligned(rows, headers, align) == want, (headers, rows, align)
    # what it does not draw, tabulate does
    assert styles._simple_aligned([[1.5]], ["x"], ["right"]) is None
    assert styles._simple_aligned([["a\nb"]], ["x"], ["left"]) is None
    assert styles.tabulate([["a\nb"]], headers=["x"], tablefmt="aligned", disable_numparse=True, colalign=["left"])


def test_the_engine_builds_results_with_the_fields_in_their_order():
    """execute.run_statement builds an ok result positionally (the hot path): a field added,
    removed or moved in QueryResult must be seen here."""
    import dataclasses

    from qshell.records.results import QueryResult

    assert [f.name for f in dataclasses.fields(QueryResult)] == [
        "index", "sql", "status", "worker", "pid", "columns", "rows", "rowcount", "command", "error", "sqlstate",
        "wait_s", "exec_s", "fetch_s", "start_s", "end_s", "waits", "blocked_by", "notices", "diag", "retries",
        "resources", "plan", "no_resources", "no_plan", "server", "lent_s", "pool_wait_s"]
