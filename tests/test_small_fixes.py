"""Small fixes, each checked against the real server (or a real process) as psql would behave."""
from __future__ import annotations

import json

# -- settings are range-checked ---------------------------------------------------------


def test_timeout_out_of_range_is_refused_and_queries_still_run(qshell):
    r = qshell("\\set timeout 99999999999s\n\\set timeout\n\\add SELECT 1 AS one;\n\\go\n")
    errors = [line for line in r.err.splitlines() if line.strip()]
    assert len(errors) == 1, r.err
    assert "\\set timeout" in errors[0] and "2147483647ms" in errors[0]
    assert "timeout = off" in r.out  # the bad value was not taken
    assert "1 queries" in r.out or "1 query" in r.out
    assert "failed" not in r.out + r.err


def test_numeric_settings_name_their_range(qshell):
    r = qshell("\\set maxrows 3000000000\n\\set maxwidth 2\n\\set workers 0\n\\set workers 99999\n"
               "\\set timeout 2147483647ms\n\\set timeout\n")
    errors = [line for line in r.err.splitlines() if line.strip()]
    assert len(errors) == 4, r.err
    assert "maxrows: expected a whole number from 0 to 2147483647" in errors[0]
    assert "maxwidth: expected a whole number from 4 to 2147483647" in errors[1]
    assert "workers: expected a whole number from 1 to 10000" in errors[2] and "99999" in errors[3]
    assert "timeout = 2.14748e+06s" in r.out  # the largest statement_timeout is taken


def test_largest_timeout_is_accepted_by_the_server(qshell):
    r = qshell("\\set timeout 2147483647ms\n\\add SELECT 1;\n\\go\n", "--format", "json")
    assert r.code == 0, r.err
    run = [json.loads(line) for line in r.out.splitlines()][-1]
    assert run["type"] == "run" and run["ok"] == 1


# -- damaged run records ------------------------------------------------------------------

BAD_RUNS = [
    {"wall_ms": "x"},
    {"results": 5},
    {"n": "a"},
    {"started_at": None},
    {"results": [{"total_ms": "slow", "sql": "SELECT 1", "status": "ok", "index": 1}]},
    {"results": [None]},
    {"speedup": [1]},
    {"started_at": 1e300},
]


def test_runs_of_the_wrong_type_are_skipped_as_damaged(qshell, hist):
    r = qshell("\\add SELECT 1;\n\\go 1\n\\go 1\n")
    assert r.code == 0, r.err
    path = hist / "runs.jsonl"
    good = json.loads(path.read_text().splitlines()[0])
    with path.open("a") as f:
        for bad in BAD_RUNS:
            f.write(json.dumps({**good, **bad}) + "\n")
    r = qshell("\\history\n\\compare 1 2\n\\compare 1 -1\n\\add SELECT 1;\n\\go 1\n")
    assert "internal error" not in r.err, r.err
    assert r.code == 0, r.err
    assert f"skipped {len(BAD_RUNS)} damaged line(s)" in r.err
    table = r.out.split("run 1 ms")[0]
    assert table.count(good["fingerprint"]) == 2  # the two good runs are listed, no other
    assert "run 1 ms" in r.out and "run 2 ms" in r.out


# -- passwords never echoed -------------------------------------------------------------

SECRET = "pa%zzss"  # badly percent-encoded: libpq quotes the token back in its error


def test_badly_encoded_password_is_never_shown(qshell_proc, dsn):
    uris = [f"postgresql://u:{SECRET}@localhost/db", f"postgresql://u@localhost/db?password={SECRET}&sslmode=disable",
            f"host=localhost password='{SECRET}"]  # the last: an unterminated quote
    for uri in uris:
        r = qshell_proc("", uri, "-c", "SELECT 1", use_dsn=False)
        assert r.code in (1, 2)
        assert r.err.strip(), "an error is reported"
        assert SECRET not in r.out + r.err and "zzss" not in r.out + r.err, (uri, r.err)
        if "'" in uri:
            continue
        r = qshell_proc(f"\\c {uri}\n\\c '{uri}'\nSELECT 'still here' AS s;\n")
        assert r.err.count("previous connection kept") == 2
        assert "still here" in r.out
        assert SECRET not in r.out + r.err and "zzss" not in r.out + r.err, (uri, r.err)
