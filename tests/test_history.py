"""The run history (runs.sqlite): concurrent shells, damaged and foreign files, the import
of runs.jsonl, bounded lookups, retention, the JSON-lines export. No absolute time is asserted."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import zlib
from contextlib import closing

import pytest

from qshell.store.history import LOOKUP, RunStore, timing_key

from .conftest import clean_env, qshell_argv


def _store(directory) -> RunStore:
    store, _ = RunStore.open(directory, create=False)
    assert store is not None
    return store


def _record(k: int, queries: int, *, fingerprint: str = "f00", target: str = "u@h:5432/db", n: int = 4,
            interrupted: bool = False) -> dict:
    return {"type": "run", "schema": 1, "run_id": f"{k:08x}-1", "n": n, "queries": queries, "ok": queries, "failed": 0,
            "interrupted": interrupted, "started_at": 1.7e9 + k, "wall_ms": 10.0, "sum_ms": 20.0, "speedup": 2.0,
            "fingerprint": fingerprint, "label": "SELECT 0 (+K)", "target": target,
            "results": [{"type": "query", "run_id": f"{k:08x}-1", "index": i, "sql": f"SELECT {i}", "status": "ok",
                         "total_ms": float(k + i)} for i in range(1, queries + 1)]}


def _touched(store: RunStore, fn) -> int:  # noqa: ANN001
    """How many SQLite VM steps ``fn`` takes: grows with the rows it reads."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.db.set_progress_handler(count, 1)
    try:
        fn()
    finally:
        store.db.set_progress_handler(None, 1)
    return steps


@pytest.mark.slow
def test_concurrent_shells_lose_no_run(dsn, hist):
    script = "\\add SELECT pg_sleep(0.01);\n\\add SELECT 2;\n" + "\\go 2\n" * 6
    argv = qshell_argv("--history-dir", str(hist), dsn)
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
             for _ in range(2)]
    outs = [p.communicate(script.encode(), timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
        assert b"warning" not in err, err.decode()
    records = list(_store(hist).dump())
    assert len(records) == 12
    assert len({r["run_id"] for r in records}) == 12
    assert all(len(r["results"]) == 2 for r in records)
    for name in ("runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm"):
        if (hist / name).exists():
            assert stat.S_IMODE(os.stat(hist / name).st_mode) == 0o600, name


def test_garbage_file_is_reported_once_and_the_shell_goes_on(qshell, hist):
    hist.mkdir(parents=True)
    garbage = b"\x00\xffnot a database at all\n" * 300
    (hist / "runs.sqlite").write_bytes(garbage)
    r = qshell("\\add SELECT 41 + 1 AS answer;\n\\go 1\n\\go 1\n\\history\n\\compare 1 2\nSELECT 'still here' AS s;\n")
    assert "internal error" not in r.err, r.err
    assert "42" in r.out and "still here" in r.out
    warnings = [line for line in r.err.splitlines() if "runs.sqlite" in line]
    assert len(warnings) == 1, r.err
    assert "not a database" in warnings[0]
    assert (hist / "runs.sqlite").read_bytes() == garbage  # never overwritten


def test_foreign_sqlite_file_is_reported_and_left_alone(qshell, hist):
    hist.mkdir(parents=True)
    db = sqlite3.connect(hist / "runs.sqlite")
    db.execute("CREATE TABLE recipes (name text)")
    db.commit()
    db.close()
    r = qshell("\\add SELECT 1;\n\\go 1\n\\history\n")
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if "runs.sqlite" in line]
    assert len(warnings) == 1 and "not a qshell run history" in warnings[0], r.err
    db = sqlite3.connect(hist / "runs.sqlite")
    assert [t for (t,) in db.execute("SELECT name FROM sqlite_master")] == ["recipes"]
    db.close()


def test_runs_jsonl_is_imported_once_with_damaged_lines_skipped(qshell, hist):
    hist.mkdir(parents=True)
    good = [_record(k, 3) for k in (1, 2)]
    lines = [json.dumps(good[0]), "{not json", json.dumps({**good[0], "wall_ms": "slow"}), json.dumps(good[1]), ""]
    (hist / "runs.jsonl").write_text("\n".join(lines))
    r = qshell("\\history\n", "--format", "json")
    assert r.code == 0, r.err
    assert "imported 2 run(s)" in r.err and "skipped 2 damaged line(s)" in r.err
    assert [json.loads(x)["run_id"] for x in r.out.splitlines()] == [g["run_id"] for g in good]
    with open(hist / "runs.jsonl", "a") as fh:  # an older qshell still appending: not read again
        fh.write(json.dumps(_record(3, 3)) + "\n")
    r = qshell("\\history\n", "--format", "json")
    assert "imported" not in r.err and "damaged" not in r.err
    assert len(r.out.splitlines()) == 2
    assert stat.S_IMODE(os.stat(hist / "runs.sqlite").st_mode) == 0o600


@pytest.mark.slow
def test_lookup_and_listing_read_a_bounded_amount(tmp_path):
    store, _ = RunStore.open(tmp_path)
    queries = [f"SELECT {i}" for i in range(1, 501)]

    def lookup():  # noqa: ANN202
        return store.lookup("u@h:5432/db", queries)

    for k in range(1, 21):
        store.append(_record(k, 500, n=1 if k == 10 else 4))
    small = (_touched(store, lookup), _touched(store, lambda: store.last(5, results=False)),
             _touched(store, lambda: store.find("-1")), _touched(store, lambda: store.find("00000003")))
    times, alone = lookup()
    assert times["SELECT 7"] == (20 + 7) / 1000 and alone["SELECT 7"] == (10 + 7) / 1000
    for k in range(21, 201):
        store.append(_record(k, 500, n=1 if k == 150 else 4))
    large = (_touched(store, lookup), _touched(store, lambda: store.last(5, results=False)),
             _touched(store, lambda: store.find("-1")), _touched(store, lambda: store.find("00000003")))
    assert all(b <= a * 1.1 for a, b in zip(small, large, strict=True)), (small, large)  # 10x the runs, not 10x the reads
    times, alone = lookup()
    assert times["SELECT 7"] == (200 + 7) / 1000 and alone["SELECT 7"] == (150 + 7) / 1000
    plan = " ".join(str(row) for row in store.db.execute("EXPLAIN QUERY PLAN " + LOOKUP, (timing_key("t", "q"),)))
    assert "SCAN timings" not in plan and "PRIMARY KEY" in plan and "timings_alone" in plan, plan


def test_interrupted_runs_are_kept_but_never_measurements(tmp_path):
    store, _ = RunStore.open(tmp_path)
    store.append(_record(1, 2, n=1))
    store.append(_record(2, 2, n=1, interrupted=True))
    times, alone = store.lookup("u@h:5432/db", ["SELECT  1"])
    assert times == {"SELECT 1": 0.002} and alone == {"SELECT 1": 0.002}
    assert [r["interrupted"] for r in store.dump()] == [False, True]
    assert store.lookup("other@h:5432/db", ["SELECT 1"]) == ({}, {})  # another target's times are not used


def test_retention_trims_per_set_and_keeps_the_run_rows(tmp_path):
    store, _ = RunStore.open(tmp_path)
    for k in range(1, 7):
        store.append(_record(k, 3), keep=2)
    store.append(_record(7, 3, fingerprint="other"), keep=2)
    recs = list(store.dump())
    assert len(recs) == 7
    assert [bool(r.get("results_trimmed")) for r in recs] == [True] * 4 + [False] * 3
    assert [len(r["results"]) for r in recs] == [0, 0, 0, 0, 3, 3, 3]
    assert store.db.execute("SELECT count(*) FROM timings").fetchone()[0] == 9
    assert store.db.execute("SELECT count(*), sum(count) FROM results").fetchone() == (3, 9)  # one row per run


def test_a_schema_1_history_is_upgraded_once_and_loses_nothing(tmp_path):
    """Schema 1 (one results row per query) becomes one compressed results row per run."""
    db = sqlite3.connect(tmp_path / "runs.sqlite", isolation_level=None)
    for stmt in """
        CREATE TABLE runs (number INTEGER PRIMARY KEY, run_id TEXT NOT NULL, started_at REAL, target TEXT,
            fingerprint TEXT, n INTEGER, interrupted INTEGER NOT NULL, trimmed INTEGER NOT NULL DEFAULT 0,
            record TEXT NOT NULL);
        CREATE INDEX runs_run_id ON runs (run_id);
        CREATE INDEX runs_set ON runs (fingerprint, trimmed, number);
        CREATE TABLE results (run INTEGER NOT NULL, pos INTEGER NOT NULL, record TEXT NOT NULL,
            PRIMARY KEY (run, pos)) WITHOUT ROWID;
        CREATE TABLE timings (key INTEGER NOT NULL, run INTEGER NOT NULL, alone INTEGER NOT NULL,
            total_ms REAL NOT NULL, PRIMARY KEY (key, run)) WITHOUT ROWID;
        CREATE INDEX timings_alone ON timings (key, run, total_ms) WHERE alone;
        CREATE INDEX timings_run ON timings (run);
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        PRAGMA user_version = 1""".split(";"):
        db.execute(stmt)
    for k in (1, 2):
        rec = _record(k, 3)
        head = {key: v for key, v in rec.items() if key != "results"}
        db.execute("INSERT INTO runs (run_id, started_at, target, fingerprint, n, interrupted, record)"
                   " VALUES (?, ?, ?, ?, ?, 0, ?)", (rec["run_id"], rec["started_at"], rec["target"], rec["fingerprint"],
                                                     rec["n"], json.dumps(head)))
        for pos, q in enumerate(rec["results"], start=1):
            db.execute("INSERT INTO results VALUES (?, ?, ?)", (k, pos, json.dumps(q)))
            db.execute("INSERT INTO timings VALUES (?, ?, 0, ?)", (timing_key(rec["target"], q["sql"]), k, q["total_ms"]))
    db.close()
    store = _store(tmp_path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert [r["results"] for r in store.dump()] == [_record(k, 3)["results"] for k in (1, 2)]
    assert store.lookup("u@h:5432/db", ["SELECT 1"])[0] == {"SELECT 1": 0.003}
    store.append(_record(3, 2))
    store.close()
    assert [len(r["results"]) for r in _store(tmp_path).dump()] == [3, 3, 2]  # opened again: nothing to upgrade


def test_a_damaged_results_row_is_counted_not_fatal(tmp_path):
    store, _ = RunStore.open(tmp_path)
    store.append(_record(1, 2))
    store.append(_record(2, 2))
    store.db.execute("UPDATE results SET data = x'00ff00' WHERE run = 1")
    numbered, damaged = store.last(5)
    assert [k for k, _ in numbered] == [2] and damaged == 1


def test_history_keep_setting_trims_through_the_shell(qshell, hist):
    r = qshell("\\set history_keep 2\n\\add SELECT 1;\n" + "\\go 1\n" * 4 + "\\compare 1 -1\n\\history\n")
    assert r.code == 0, r.err
    assert "run 1's per-query times were trimmed" in r.err
    recs = list(_store(hist).dump())
    assert [len(r["results"]) for r in recs] == [0, 0, 1, 1]
    assert "history_keep" in qshell("\\set\n").out
    assert "expected a whole number" in qshell("\\set history_keep 0\n").err


def test_times_are_looked_up_across_sessions(qshell):
    stage = "\\add SELECT count(*) FROM generate_series(1, 200000);\n" * 2
    qshell(stage + "\\go 1\n")
    r = qshell(stage + "\\set order longest-first\n\\go 2\n", "--format", "json")
    assert r.code == 0, r.err
    queries = [json.loads(x) for x in r.out.splitlines() if '"type":"query"' in x]
    assert all("slowdown" in q for q in queries)  # the time alone came from the first session


def test_dump_prints_every_record_as_a_json_line(qshell, hist):
    qshell("\\add SELECT 1;\n\\add SELECT 2;\n\\go 2\n\\go 1\n")
    p = subprocess.run([sys.executable, "-m", "qshell.history", "dump", "--history-dir", str(hist)],
                       capture_output=True, text=True, env=clean_env(), timeout=60)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["n"] for r in recs] == [2, 1]
    assert [q["sql"] for q in recs[0]["results"]] == ["SELECT 1", "SELECT 2"]
    p = subprocess.run([sys.executable, "-m", "qshell.history", "dump", "--history-dir", str(hist / "none")],
                       capture_output=True, text=True, env=clean_env(), timeout=60)
    assert p.returncode == 0 and p.stdout == ""


def test_records_of_older_qshells_read_their_speedup_as_overlap(tmp_path):
    """A run's sum ÷ wall was stored as "speedup" before it became "overlap": such rows
    (runs.sqlite and an imported runs.jsonl) are read under the new name, and \\history
    shows them; a record written now has "overlap" only."""
    store, _ = RunStore.open(tmp_path)
    assert store is not None
    store.append(_record(1, 2))  # "speedup": 2.0, as older qshells wrote it
    (rec,) = list(store.dump())
    assert rec["overlap"] == 2.0 and "speedup" not in rec
    (number, listed), = store.last(1, results=False)[0]
    assert listed["overlap"] == 2.0
    store.close()
    older = tmp_path / "older"
    older.mkdir()
    (older / "runs.jsonl").write_text(json.dumps(_record(2, 1)) + "\n")
    imported, _ = RunStore.open(older)
    assert imported is not None
    assert [r["overlap"] for r in imported.dump()] == [2.0]
    imported.close()


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["end of input", "a script stopped by an error", "\\q"])
def test_the_store_is_checkpointed_and_closed_at_every_exit(qshell_proc, hist, ending):
    """A shell that recorded runs leaves no write-ahead log behind, however it ended: the
    -wal of a store never closed grew with every run and every later start read it."""
    runs = "\\add SELECT g FROM generate_series(1, 200) g;\n" * 4 + "\\go 2\n\\go 2\n\\go 4\n"
    tail = {"end of input": "", "a script stopped by an error": "\\set ON_ERROR_STOP on\nSELECT 1/0;\nSELECT 1;\n",
            "\\q": "\\q\nSELECT 1;\n"}[ending]
    r = qshell_proc(runs + tail)
    assert r.code == (3 if "error" in ending else 0), r.err
    assert (hist / "runs.sqlite").stat().st_size > 0
    wal = hist / "runs.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0, wal.stat().st_size
    db = sqlite3.connect(hist / "runs.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
    finally:
        db.close()


def test_a_password_written_in_staged_sql_is_kept_out_of_records_and_the_history(qshell, hist, dsn):
    """``ALTER ROLE … PASSWORD 'x'`` staged and run: the server gets it as written (the
    role logs in with it), but the JSON records, the text and CSV summaries, \\history and
    every file of the history directory show '***' instead; each file stays 0600."""
    import psycopg2
    from psycopg2.extensions import make_dsn

    role, secret = f"pw_{os.getpid()}", "StagedPw-111-secret"
    qshell(f"CREATE ROLE {role} LOGIN;\n")
    try:
        staged = f"\\add ALTER ROLE {role} PASSWORD '{secret}';\n\\add SELECT 1 AS one;\n"
        outs = [qshell(staged + "\\go 2\n", "--format", fmt) for fmt in ("json", "aligned", "csv")]
        listing = qshell("\\history\n")
        for r in [*outs, listing]:
            assert r.code == 0, r.err
            assert secret not in r.out and secret not in r.err
        record = json.loads(outs[0].out.splitlines()[0])
        assert record["sql"] == f"ALTER ROLE {role} PASSWORD '***'" and record["status"] == "ok"
        assert "PASSWORD '***'" in outs[1].out and "PASSWORD '***'" in outs[2].out
        conn = psycopg2.connect(make_dsn(dsn, user=role, password=secret))  # what the server got: the password
        conn.close()
        files = [p for p in hist.rglob("*") if p.is_file()]
        assert files
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
            assert path.stat().st_mode & 0o077 == 0, path
        with closing(sqlite3.connect(hist / "runs.sqlite")) as db:  # the records are stored compressed
            blobs = [zlib.decompress(data) for (data,) in db.execute("SELECT data FROM results")]
            keys = [str(k) for row in db.execute("SELECT * FROM timings") for k in row]
        assert blobs and all(secret.encode() not in b for b in blobs) and b"PASSWORD '***'" in b"".join(blobs)
        assert keys and not any(secret in k for k in keys)
    finally:
        qshell(f"DROP ROLE {role};\n")
