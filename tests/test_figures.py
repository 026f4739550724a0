"""A run's timing figures against the server's own record of the same statements.

qshell times each staged query from sending it to its answer (``exec_ms``), places it
in the run (``start_ms``/``end_ms``) and sums the run up (wall, sum, overlap). The server
logs, for each statement, how long it ran (``log_min_duration_statement = 0``: its
``duration``) and when it finished (the record's timestamp). Those are measured apart
from qshell's clock; the figures must agree with them within the client's own share (a
round trip, the wake-up of a green worker).
"""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

pytest_plugins = ["tests.oracle"]

_DURATION = re.compile(r"^duration: ([0-9.]+) ms")


def _server_times(logged_server, db_name: str, app: str, tags: list[str]) -> dict[int, tuple[float, float]]:
    """Per staged index (by its tag): (start, end) in seconds, as the server logged them: end = the duration record's timestamp, start = end - duration."""
    out: dict[int, tuple[float, float]] = {}
    pending: dict[int, int] = {}  # backend pid -> the staged index its last statement was
    for e in logged_server.entries():
        if e.db != db_name or e.app != app:
            continue
        if e.message.startswith("statement: "):
            hits = [i for i, tag in enumerate(tags, start=1) if tag in e.message]
            if len(hits) == 1:
                pending[e.pid] = hits[0]
            else:
                pending.pop(e.pid, None)
            continue
        m = _DURATION.match(e.message)
        if m and e.pid in pending:
            index = pending.pop(e.pid)
            stamp = e.raw["timestamp"].rsplit(" ", 1)[0]  # differences only: the log's zone does not matter
            end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
            out[index] = (end - float(m.group(1)) / 1000, end)
    return out


@pytest.mark.slow
def test_a_runs_times_agree_with_the_servers_log(logged_server, tmp_path):
    """Four sleeps of known lengths on two workers: each query's time is the server's
    duration plus at most the client's share; the wall covers the server's span from the
    first start to the last end; the offsets between queries are the server's; and the
    overlap (sum ÷ wall) is the server's own (sum of durations ÷ its span)."""
    tags = [f"fig_t{i}" for i in range(1, 5)]
    sleeps = [0.30, 0.20, 0.25, 0.15]
    db_ = logged_server.database("figures", settings={"log_min_duration_statement": "0"})
    app = "qshell-figures"
    script = "".join(f"\\add SELECT pg_sleep({s}) AS {t};\n" for s, t in zip(sleeps, tags, strict=True)) + "\\go 2\n"
    q = logged_server.qshell(script, db_.dsn(app), "--format", "json", history=tmp_path / "history")
    assert q.code == 0, q.err
    records = [json.loads(line) for line in q.out.splitlines() if line.startswith("{")]
    run = next(r for r in records if r.get("type") == "run")
    results = {r["index"]: r for r in records if r.get("type") == "query"}
    server = _server_times(logged_server, db_.name, app, tags)
    assert sorted(server) == [1, 2, 3, 4], server
    slack_ms = 40.0  # a round trip and a green worker's wake-up on a shared 2-core machine
    for i, (s_start, s_end) in server.items():
        r = results[i]
        duration_ms = (s_end - s_start) * 1000
        assert r["exec_ms"] >= duration_ms - 1.0, (i, r["exec_ms"], duration_ms)  # the log's ms rounding
        assert r["exec_ms"] - duration_ms <= slack_ms, (i, r["exec_ms"], duration_ms)
        print(f"[figures] #{i}: qshell {r['exec_ms']:.3f} ms, server {duration_ms:.3f} ms")
    first = min(s for s, _ in server.values())
    last = max(e for _, e in server.values())
    span_ms = (last - first) * 1000
    assert run["wall_ms"] >= span_ms - 2.0, (run["wall_ms"], span_ms)  # timestamps to the millisecond
    assert run["wall_ms"] - span_ms <= slack_ms * 2, (run["wall_ms"], span_ms)
    # where each query started within the run, against where the server says it started
    for i in (2, 3, 4):
        ours = results[i]["start_ms"] - results[1]["start_ms"]
        theirs = (server[i][0] - server[1][0]) * 1000
        assert abs(ours - theirs) <= slack_ms, (i, ours, theirs)
    server_overlap = sum(e - s for s, e in server.values()) * 1000 / span_ms
    assert abs(run["overlap"] - server_overlap) <= 0.1 * server_overlap, (run["overlap"], server_overlap)
    assert 1.6 <= server_overlap <= 2.0  # two workers, four sleeps: near 2 by construction


def test_the_terminal_and_the_report_round_one_figure_one_way():
    """The terminal formats seconds; the JSON keeps milliseconds to 3 decimals and the
    report formats those: a time like 101.5504 ms must read the same in both (it read
    101.6 in the terminal and 101.5 in the report, one run in a few hundred)."""
    from qshell.output import styles
    from qshell.output.report.basics import dur

    for i in range(20_000):
        seconds = 0.1 + i * 0.0000123457
        json_ms = round(seconds * 1000, 3)
        assert styles.ms(seconds) == f"{json_ms:.1f}", seconds
        assert styles.duration(seconds) == dur(json_ms), (seconds, styles.duration(seconds), dur(json_ms))
