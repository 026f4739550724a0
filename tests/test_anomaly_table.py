"""The anomaly table and the lab, on a real server, each cell checked against what the
server did, read independently of qshell's runner:

- the final rows: the same permutation run at the same level on a spec whose teardown keeps
  the table, then the rows read by psycopg2 on a connection of their own;
- the failed steps: the server's own log (jsonlog, ``state_code``) of the session's backend;
- the level: the server logged each session's ``SET SESSION CHARACTERISTICS``, and a step
  asking ``current_setting('transaction_isolation')`` gets the column's level;
- the waits: isolationtester's own ``<waiting ...>`` lines for the same spec, and the
  ``<... completed>`` that follows the blocker's step.

Every lab spec runs through the real isolationtester without error and gives the same
bytes as ``qshell --spec``.
"""
from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from qshell.engine.anomaly import LevelError, parse_levels, run_levels
from qshell.records.anomaly import AnomalyTable, Cell
from qshell.script.spec import parse
from qshell.shell.lab import LAB_DIR, explanation, lab_specs
from tests.conftest import qshell_argv
from tests.infra import query
from tests.test_isolation_spec import fresh_db, isolationtester, regress_env, run_qshell_spec, run_real

pytest_plugins = ["tests.oracle"]

LAB = sorted(LAB_DIR.glob("*.spec"))
RR, SER, RC = "repeatable read", "serializable", "read committed"


def _spec_text(name: str) -> str:
    return (LAB_DIR / f"{name}.spec").read_text(encoding="utf-8")


def _kept(text: str, table: str) -> str:
    """The spec with its tables kept after the run: the setup drops them first, no teardown."""
    text = re.sub(r"^teardown \{[^}]*\}\n", "", text, count=1, flags=re.M)  # the spec's (before any session)
    return text.replace("setup\n{\n", f"setup\n{{\n  DROP TABLE IF EXISTS {table};\n", 1)


def _cell(table: AnomalyTable, steps: str, level: str) -> Cell:
    k = table.permutations.index(tuple(steps.split()))
    return table.cells[(k, level)]


def _rows_independently(conninfo: str, spec_text: str, steps: str, level: str, sql: str) -> tuple[Cell, list[tuple]]:
    """Run one permutation at one level on the kept-tables spec; the cell, then the rows
    ``sql`` reads on a psycopg2 connection after the run."""
    spec = parse(spec_text)
    perm = next(p for p in spec.permutations if " ".join(p.names()) == steps)
    table = run_levels(spec, [level], conninfo, permutations=[perm])
    rows = query(conninfo, sql)
    return table.cells[(0, level)], [tuple(_as_text(v) for v in r) for r in rows]


def _as_text(v: object) -> str | None:
    """A psycopg2 value as the server's text output writes it (booleans t/f)."""
    if isinstance(v, bool):
        return "t" if v else "f"
    return None if v is None else str(v)


def _logged_errors(server, db: str, app_prefix: str) -> list[tuple[str, str]]:
    """(session, SQLSTATE) of each ERROR the server logged for the spec's sessions."""
    out = []
    for e in server.entries():
        if e.db == db and e.severity == "ERROR" and e.app.startswith(app_prefix + "/"):
            out.append((e.app.rsplit("/", 1)[1], e.raw.get("state_code", "")))
    return out


def test_parse_levels():
    assert parse_levels("read committed,repeatable read, SERIALIZABLE") == (RC, RR, SER)
    assert parse_levels("rc, rr , ser, rc") == (RC, RR, SER)
    with pytest.raises(LevelError, match="unknown isolation level 'snapshot'"):
        parse_levels("rc, snapshot")


@pytest.mark.slow
def test_write_skew_anomaly_under_repeatable_read_serialization_failure_under_serializable(logged_server):
    db = logged_server.database("anom_ws")
    conninfo = db.dsn("ws")
    spec = parse(_spec_text("write-skew"))
    table = run_levels(spec, [RC, RR, SER], conninfo, name="write-skew")
    interleaved = ["a_check b_check a_off b_off a_commit b_commit", "a_check a_off b_check b_off a_commit b_commit"]
    for steps in interleaved:
        rc, rr, ser = _cell(table, steps, RC), _cell(table, steps, RR), _cell(table, steps, SER)
        assert (rc.errors, rc.anomaly, rc.matches_serial) == ([], "write skew", "")
        assert (rr.errors, rr.anomaly, rr.matches_serial) == ([], "write skew", "")
        assert [t.rows for t in rr.final] == [(("alice", "f"), ("bob", "f"))]
        assert [s for _, s in ser.errors] == ["40001"] and ser.anomaly == ""
        assert ser.matches_serial  # the one that committed left a state a serial order gives
    serial = _cell(table, "a_check a_off a_commit b_check b_off b_commit", RR)
    assert (serial.errors, serial.anomaly, serial.matches_serial) == ([], "", "alice → bob")
    # the server: one 40001 per interleaved permutation under serializable, logged by a session's backend
    logged = _logged_errors(logged_server, db.name, "ws")
    assert sorted(s for _, s in logged) == ["40001"] * len(interleaved)
    assert {sess for sess, _ in logged} <= {"alice", "bob"}
    # the level: each session was sent SET SESSION CHARACTERISTICS … for each level
    for sess in ("alice", "bob"):
        sets = [t for t in db.statements(f"ws/{sess}") if t.startswith("SET SESSION CHARACTERISTICS")]
        assert sets == [f"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {lv.upper()}" for lv in (RC, RR, SER)]
    # the final rows, read independently after the same permutation at each level
    kept = _kept(_spec_text("write-skew"), "lab_oncall")
    for steps in [*interleaved, "a_check a_off a_commit b_check b_off b_commit"]:
        for level in (RR, SER):
            cell, rows = _rows_independently(conninfo, kept, steps, level, "SELECT doctor, on_call FROM lab_oncall ORDER BY doctor")
            mine = _cell(table, steps, level)
            assert rows == [tuple(r) for r in mine.final[0].rows], (steps, level)
            assert [s for _, s in cell.errors] == [s for _, s in mine.errors]


@pytest.mark.slow
def test_lost_update_anomaly_under_read_committed_40001_under_repeatable_read(logged_server):
    db = logged_server.database("anom_lu")
    conninfo = db.dsn("lu")
    table = run_levels(parse(_spec_text("lost-update")), [RC, RR], conninfo, name="lost-update")
    for steps in ("s1_read s2_read s1_write s2_write s1_commit s2_commit", "s1_read s1_write s2_read s1_commit s2_write s2_commit"):
        rc, rr = _cell(table, steps, RC), _cell(table, steps, RR)
        assert (rc.errors, rc.anomaly) == ([], "lost update")
        assert rc.final[0].rows == (("1",),)
        assert rr.errors == [("s2_write", "40001")] and rr.anomaly == ""
        assert rr.final[0].rows == (("1",),)
    first = _cell(table, "s1_read s2_read s1_write s2_write s1_commit s2_commit", RC)
    assert [(w.step, w.sessions, w.steps) for w in first.waits] == [("s2_write", ("s1",), ("s1_write",))]
    serial = _cell(table, "s1_read s1_write s1_commit s2_read s2_write s2_commit", RC)
    assert serial.final[0].rows == (("2",),) and serial.anomaly == "" and serial.matches_serial == "s1 → s2"
    for (_g, _lv), runs in table.serial.items():
        assert [r.cell.final[0].rows for r in runs] == [(("2",),), (("2",),)]
    logged = _logged_errors(logged_server, db.name, "lu")
    assert logged == [("s2", "40001"), ("s2", "40001")]
    kept = _kept(_spec_text("lost-update"), "lab_counter")
    for steps in table.permutations:
        for level in (RC, RR):
            cell, rows = _rows_independently(conninfo, kept, " ".join(steps), level, "SELECT n FROM lab_counter")
            assert rows == [tuple(r) for r in _cell(table, " ".join(steps), level).final[0].rows]
            assert cell.errors == _cell(table, " ".join(steps), level).errors


@pytest.mark.slow
def test_the_column_level_is_the_transactions_level(dsn):
    spec = parse("session s\nsetup { BEGIN; }\nstep lv { SELECT current_setting('transaction_isolation') AS lv; }\n"
                 "step c { COMMIT; }\nsession t\nstep auto { SELECT current_setting('transaction_isolation') AS lv; }\n"
                 "permutation lv c auto\n")
    levels = ("read uncommitted", RC, RR, SER)
    table = run_levels(spec, levels, dsn)
    for level in levels:
        outcomes = {o.name: o.tables[0].rows[0][0] for o in table.cells[(0, level)].record.outcomes if o.tables}
        assert outcomes == {"lv": level, "auto": level}
    assert table.warnings == []
    own = parse("session s\nsetup { BEGIN ISOLATION LEVEL SERIALIZABLE; }\nstep a { SELECT 1; }\n")
    assert run_levels(own, [RC], dsn).warnings == ["session s sets its own isolation level: the column's level does not apply to it"]


def test_no_final_state_is_compared_with_nothing(dsn):
    """A spec with no teardown whose steps return no rows has no final state: no cell is
    said to equal a serial order (it was: every empty state matched), none is an anomaly
    for it, and the table says why (newcomer report)."""
    from qshell.output.anomaly_table import table_text

    name = f"nofinal_{os.getpid()}"
    query(dsn, f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (k int)")
    try:
        spec = parse(f"session a\nstep a1 {{ INSERT INTO {name} VALUES (1); }}\n"
                     f"session b\nstep b1 {{ INSERT INTO {name} VALUES (2); }}\n")
        table = run_levels(spec, [RC, SER], dsn)
        cells = list(table.cells.values())
        assert cells and all(c.matches_serial == "" and c.anomaly == "" for c in cells)
        text = table_text(table)
        assert "= serial" not in text and "final state: none" in text
    finally:
        query(dsn, f"DROP TABLE IF EXISTS {name}")


@pytest.mark.slow
def test_read_anomalies_are_named(dsn):
    nr = run_levels(parse(_spec_text("non-repeatable-read")), [RC, RR], dsn)
    assert nr.cells[(0, RC)].anomaly == "non-repeatable read" and nr.cells[(0, RR)].anomaly == ""
    reads = [o.tables[0].rows for o in nr.cells[(0, RC)].record.outcomes if o.name in ("r_first", "r_again")]
    assert reads == [(("10",),), (("20",),)]
    ph = run_levels(parse(_spec_text("phantom")), [RC, RR], dsn)
    assert ph.cells[(0, RC)].anomaly == "phantom" and ph.cells[(0, RR)].anomaly == ""
    ro = run_levels(parse(_spec_text("read-only-anomaly")), [RR, SER], dsn)
    first = ro.cells[(0, RR)]
    assert first.anomaly == "read-only anomaly" and first.final[0].rows == (("2", "10.00", "15.50"),)
    assert ro.cells[(0, SER)].anomaly == "" and [s for _, s in ro.cells[(0, SER)].errors] == ["40001"]


@pytest.mark.slow
def test_waits_are_those_isolationtester_reports(dsn):
    """At the server's default level (read committed), the steps the table says waited are
    the steps isolationtester prints as <waiting ...>, and each completes right after a step
    of the session the table names as blocking it."""
    for name in ("lost-update", "fk-lock-contention", "ddl-behind-long-select", "on-conflict-race", "deadlock"):
        spec_path = LAB_DIR / f"{name}.spec"
        out, err, status = run_real(fresh_db(dsn, "anom_w"), spec_path, regress_env(name, spec_path.name))
        assert status == 0 and err == b""
        blocks = out.decode().split("\nstarting permutation: ")[1:]
        spec = parse(spec_path.read_text())
        session_of = {st.name: spec.sessions[st.session].name for st in spec.steps()}
        table = run_levels(spec, [RC], fresh_db(dsn, "anom_w2"))
        for k, block in enumerate(blocks):
            cell = table.cells[(k, RC)]
            assert block.split("\n", 1)[0] == " ".join(cell.steps)
            waiting = re.findall(r"^step (\S+): .*<waiting \.\.\.>$", block, flags=re.M)
            assert [w.step for w in cell.waits] == waiting, (name, cell.steps)
            lines = block.splitlines()
            for w in cell.waits:
                # the step printed just before its "<... completed>" is of a session the table names as
                # blocking it, unless the server ended the wait itself (a deadlock's victim: an ERROR follows)
                done = lines.index(f"step {w.step}: <... completed>")
                if done + 1 < len(lines) and lines[done + 1].startswith("ERROR:"):
                    continue
                before = next(ln for ln in reversed(lines[:done]) if ln.startswith("step "))
                name_before = before.split(":")[0].removeprefix("step ")
                assert session_of[name_before] in w.sessions, (name, w, before)


@pytest.mark.slow
@pytest.mark.parametrize("spec", LAB, ids=[p.stem for p in LAB])
def test_each_lab_spec_runs_through_isolationtester_as_through_qshell(dsn, spec):
    env = regress_env(spec.stem, spec.name)
    real = run_real(fresh_db(dsn, "lab_r"), spec, env)
    ours = run_qshell_spec(fresh_db(dsn, "lab_q"), spec, env)
    assert real[2] == 0 and real[1] == b"", real
    assert b"ERROR:  setup failed" not in real[0]
    assert ours == real
    assert explanation(spec), "each experiment explains what to look for"


def test_the_lab_has_a_dozen_experiments():
    names = set(lab_specs())
    assert len(names) >= 12
    for needed in ("lost-update", "write-skew", "read-only-anomaly", "deadlock", "fk-lock-contention", "skip-locked-queue",
                   "on-conflict-race", "ddl-behind-long-select"):
        assert needed in names


@pytest.mark.slow
def test_levels_json_records(dsn):
    spec = LAB_DIR / "lost-update.spec"
    p = subprocess.run(qshell_argv("-X", "--spec", str(spec), "--levels", "rc,rr", "--format", "json", dsn),
                       capture_output=True, timeout=120)
    assert p.returncode == 0 and p.stderr == b""
    recs = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(recs) == 2 * (2 + 3)  # per level: 2 serial orders, 3 permutations
    assert all(r["type"] == "isolation_permutation" for r in recs)
    by = {(tuple(r["permutation"]), r["level"], r["serial"]): r for r in recs}
    first = by[(("s1_read", "s2_read", "s1_write", "s2_write", "s1_commit", "s2_commit"), RC, False)]
    assert first["anomaly"] == "lost update" and first["final"] == [{"columns": ["final"], "rows": [["1"]]}]
    steps = {s["step"]: s for s in first["steps"]}
    assert steps["s2_write"]["waited"] and steps["s2_write"]["blocked_by"] == ["s1"]
    assert steps["s2_write"]["completed_ms"] >= steps["s1_commit"]["sent_ms"]  # released by s1's commit
    assert all(s["sent_ms"] <= s["completed_ms"] for s in first["steps"])
    assert steps["s1_read"]["results"] == [{"columns": ["n"], "rows": [["0"]]}]
    rr = by[(("s1_read", "s2_read", "s1_write", "s2_write", "s1_commit", "s2_commit"), RR, False)]
    assert rr["anomaly"] is None and {s["step"]: s["sqlstate"] for s in rr["steps"]}["s2_write"] == "40001"
    serial = [r for r in recs if r["serial"]]
    assert sorted(tuple(r["order"]) for r in serial) == [("s1", "s2"), ("s1", "s2"), ("s2", "s1"), ("s2", "s1")]
    # the text table of the same run says the same
    t = subprocess.run(qshell_argv("-X", "--spec", str(spec), "--levels", "rc,rr", dsn), capture_output=True, timeout=120)
    text = t.stdout.decode()
    assert text.count("ANOMALY: lost update") == 2 and text.count("s2_write 40001") == 2


@pytest.mark.slow
def test_lab_commands_and_the_report_section(qshell, tmp_path):
    report = tmp_path / "r.html"
    later = tmp_path / "later.html"
    r = qshell(f"\\lab\n\\lab nowait run\n\\lab lost-update under read committed, repeatable read\n\\report {report}\n"
               f"\\add SELECT 1;\n\\go 1\n\\report {later}\n")
    assert r.code == 0, r.err
    for name in lab_specs():
        assert f"  {name} " in r.out
    assert "-- NOWAIT: rather than wait" in r.out
    assert "ERROR:  could not obtain lock on row in relation \"lab_seat\"" in r.out
    assert "ANOMALY: lost update" in r.out
    page = report.read_text(encoding="utf-8")
    assert 'id="anomaly-table"' in page and 'id="anomaly-timelines"' in page
    assert page.count('class="timeline"') == 3 * 2  # every permutation at each level
    assert html.unescape(page).count("ANOMALY: lost update") >= 2
    # the blocking edge of s2_write to s1, in the read committed timeline of the first permutation
    assert 'class="block-edge" data-from="s2_write" data-to="s1"' in page
    assert page.count('data-step="s2_write"') == 6
    assert 'id="anomaly-table"' not in later.read_text(encoding="utf-8")  # a later run is what \\report reports


@pytest.mark.slow
def test_spec_under_levels_in_the_shell(qshell):
    spec = LAB_DIR / "write-skew.spec"
    r = qshell(f"\\spec {spec} under repeatable read, serializable\n\\spec {spec} under nonsense\n")
    assert "ANOMALY: write skew" in r.out and r.out.count("b_commit 40001") == 2
    assert "unknown isolation level 'nonsense'" in r.err
    assert Path(isolationtester()).exists()


@pytest.mark.slow
def test_the_readme_example_is_real_output(qshell):
    """README's write-skew table is what qshell prints for the command it shows."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    command = "$ qshell -c '\\lab write-skew under read committed, repeatable read, serializable'\n"
    shown = text.split(command, 1)[1].split("```", 1)[0]
    r = qshell("", "-X", "-c", "\\lab write-skew under read committed, repeatable read, serializable")
    assert r.code == 0, r.err
    assert r.out == shown


@pytest.mark.slow
def test_ctrl_c_stops_the_table_cleanly(dsn, tmp_path):
    """SIGINT while a step runs: the step is cancelled, the session rolled back and torn down,
    the part of the table done printed, exit status 3; nothing left on the server."""
    spec = tmp_path / "sleep.spec"
    spec.write_text("setup { CREATE TABLE anom_zz (i int); }\nteardown { DROP TABLE anom_zz; }\nsession s\n"
                    "setup { BEGIN; }\nstep ins { INSERT INTO anom_zz VALUES (1); }\nstep sl { SELECT pg_sleep(60); }\n"
                    "step c { COMMIT; }\n")
    p = subprocess.Popen(qshell_argv("-X", "--spec", str(spec), "--levels", "rc,rr", dsn), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not query(dsn, "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60);' AND state = 'active'"):
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 3, err
    assert b"(interrupted: the table is not complete)" in out and b"Traceback" not in err
    assert query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60);' AND state = 'active'") == [(0,)]
    assert query(dsn, "SELECT to_regclass('anom_zz')") == [(None,)]


@pytest.mark.slow
def test_a_terminal_sees_the_runs_counted_then_erased(dsn):
    """stderr a terminal: a status line per run done (\\r, erase line), erased at the end; stdout the table."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        p = subprocess.run(qshell_argv("-X", "--spec", str(LAB_DIR / "lost-update.spec"), "--levels", "rc", dsn),
                           stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert p.returncode == 0 and b"ANOMALY: lost update" in p.stdout
    counts = re.findall(rb"\r\x1b\[Kanomaly table: (\d+) runs done \xc2\xb7 read committed", seen)
    assert [int(c) for c in counts] == list(range(1, 2 + 3 + 1))  # 2 serial orders, 3 permutations
    assert seen.endswith(b"\r\x1b[K")


@pytest.mark.slow
def test_a_permutation_that_stops_is_said_and_the_table_goes_on(dsn, tmp_path):
    """isolationtester's fatal 'mutually-blocking steps' in a permutation: its cell says so and has
    no final state, the spec's teardown is run on a new connection (the next level's setup
    creates the table again), exit status 1."""
    spec = tmp_path / "stuck.spec"
    spec.write_text("setup { CREATE TABLE anom_mb (i int); }\nteardown { DROP TABLE anom_mb; }\n"
                    "session s1\nstep s1_lock { BEGIN; LOCK TABLE anom_mb; }\nstep s1_c { COMMIT; }\n"
                    "session s2\nstep s2_read { SELECT count(*) AS n FROM anom_mb; }\n"
                    "permutation s1_lock s2_read(s1_lock notices 5) s1_c\n")
    table = run_levels(parse(spec.read_text()), [RC, RR], dsn)
    for level in (RC, RR):
        cell = table.cells[(0, level)]
        assert cell.stopped == "failed to complete permutation due to mutually-blocking steps"
        assert cell.final == [] and cell.anomaly == ""
        assert [r.cell.stopped for r in table.serial[(0, level)]] == ["", ""]
    assert query(dsn, "SELECT to_regclass('anom_mb')") == [(None,)]
    p = subprocess.run(qshell_argv("-X", "--spec", str(spec), "--levels", "rc", dsn), capture_output=True, timeout=120)
    assert p.returncode == 1 and b"stopped: failed to complete permutation due to mutually-blocking steps" in p.stdout


@pytest.mark.slow
def test_a_users_table_of_the_same_name_is_left_alone(dsn):
    """The lab's setup cannot create its table (the database has one of that name): every run
    stops at the setup as isolationtester does, and the spec's teardown (DROP TABLE) is never
    run on the user's table."""
    conninfo = fresh_db(dsn, "anom_mine")
    query(conninfo, "CREATE TABLE lab_counter (mine text); INSERT INTO lab_counter VALUES ('keep me')")
    table = run_levels(parse(_spec_text("lost-update")), [RC], conninfo)
    stopped = {c.stopped for c in table.cells.values()} | {r.cell.stopped for runs in table.serial.values() for r in runs}
    assert stopped == {'setup failed: ERROR:  relation "lab_counter" already exists'}
    assert query(conninfo, "SELECT mine FROM lab_counter") == [("keep me",)]


@pytest.mark.slow
def test_data_in_the_table_is_escaped(dsn, tmp_path):
    """A value holding an escape sequence is shown escaped in the table (never sent to the terminal)."""
    spec = tmp_path / "esc.spec"
    spec.write_text("session s\nstep a { SELECT E'red\\x1b[31m' AS v; }\n")  # the server makes the ESC
    p = subprocess.run(qshell_argv("-X", "--spec", str(spec), "--levels", "rc", dsn), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"\x1b" not in p.stdout and b"final (red\\x1B[31m)" in p.stdout


@pytest.mark.slow
def test_lab_name_loads_the_experiment_into_sessions_for_permute(qshell, dsn):
    """\\lab NAME opens the experiment's sessions with its steps recorded; \\permute then runs
    one interleaving on them as isolationtester would (the lost update: the final count 1,
    not 2, checked in the text and the table dropped by the teardown afterwards)."""
    r = qshell("\\lab lost-update\n\\sessions\n"
               "\\permute s1_read s2_read s1_write s2_write s1_commit s2_commit\n")
    assert r.code == 0, r.err
    assert "loaded as sessions s1, s2 with steps s1_read s1_write s1_commit s2_read s2_write s2_commit" in r.err
    assert "-- Lost update:" in r.out
    assert "starting permutation: s1_read s2_read s1_write s2_write s1_commit s2_commit" in r.out
    assert "step s2_write: UPDATE lab_counter" in r.out and "<waiting ...>" in r.out
    assert "step s2_write: <... completed>" in r.out
    assert "final\n-----\n    1\n(1 row)" in r.out  # one increment lost
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute("SELECT to_regclass('lab_counter') IS NULL")
        assert cur.fetchone() == (True,)
    finally:
        conn.close()


def test_a_bad_level_names_the_command_it_was_given_to(qshell):
    """``\\lab NAME under bogus`` and ``\\spec FILE under bogus``: one line naming the command
    as typed (it said ``lab:``), the script going on."""
    r = qshell("\\lab write-skew under bogus\n\\spec x.spec under bogus\nSELECT 'on' AS went;\n")
    lines = r.err.splitlines()
    assert lines[0].endswith("\\lab: unknown isolation level 'bogus' (read uncommitted, read committed,"
                             " repeatable read, serializable)"), r.err
    assert lines[1].endswith("\\spec: unknown isolation level 'bogus' (read uncommitted, read committed,"
                             " repeatable read, serializable)"), r.err
    assert "went" in r.out
