"""Small leaks closed, each checked on the real server (or a real process) as psql or a
careful DBA tool behaves: server-supplied names in the lock lines escaped, C1 controls
escaped in JSON, passwords redacted from every message that may quote a connection
string, user numbers parsed one way (ASCII digits, a named range), output and run-history
write failures told as what they are."""
from __future__ import annotations

import json
import re

import pytest

from qshell.engine.conflicts import Deadlock, LockWait
from qshell.output.run_summary import lock_lines

OSC = "\x1b]0;pwned\x07"  # sets the terminal's window title when printed raw
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what must never reach a terminal
LOCKED = f'"lk{OSC}"'  # a table name holding the OSC


def _lock_script(table: str, go: str) -> str:
    """#1 holds a row of ``table`` 0.8 s; #2, 0.1 s late, waits for it: the lock graph names ``table``."""
    return f"""\
DROP TABLE IF EXISTS {table};
CREATE TABLE {table} (id int PRIMARY KEY, v int);
INSERT INTO {table} VALUES (1, 0);
\\set tx rollback
\\add SELECT pg_sleep(0.8) FROM (SELECT * FROM {table} WHERE id = 1 FOR UPDATE) s;
\\add UPDATE {table} SET v = v + 1 WHERE id = 1 AND pg_sleep(0.1) IS NOT NULL;
{go}
DROP TABLE {table};
"""


def test_lock_lines_escape_every_server_supplied_word():
    hostile = "\x1b[2J" + OSC + "\x9b31m"
    waits = [LockWait("#2", "#1", f"tuple{hostile}", f"ShareLock{hostile}", f"rel{hostile}", 0.5)]
    deadlocks = [Deadlock(1, 0.1, (("#1", f"ShareLock{hostile}", f"transaction 7{hostile}", "#2"),))]
    lines = lock_lines(waits, deadlocks)
    assert len(lines) == 3
    for line in lines:
        assert not RAW.search(line), repr(line)
    assert "rel\\x1B[2J\\x1B]0;pwned\\x07\\u009B31m" in lines[1]
    assert "transaction 7\\x1B[2J" in lines[2]


@pytest.mark.slow
def test_relation_name_escaped_in_the_lock_graph_of_a_run(qshell):
    r = qshell(_lock_script(LOCKED, "\\go 2"))
    assert r.code == 0, r.err
    assert "lock waits (waiter → holder" in r.out, r.out
    assert "#2 → #1 · ShareLock (transactionid) · \"lk\\x1B]0;pwned\\x07\"" in r.out, r.out
    assert not RAW.search(r.out + r.err), repr(r.out + r.err)


@pytest.mark.slow
def test_relation_name_escaped_in_the_lock_graph_of_a_load(qshell):
    r = qshell(_lock_script(LOCKED, "\\go 2 for 2s"))
    assert r.code == 0, r.err
    assert "#2 → #1 · ShareLock (transactionid) · \"lk\\x1B]0;pwned\\x07\"" in r.out, r.out
    assert not RAW.search(r.out + r.err), repr(r.out + r.err)
    # the JSON record keeps the exact name
    r = qshell(_lock_script(LOCKED, "\\go 2 for 2s"), "--format", "json")
    rec = next(json.loads(line) for line in r.out.splitlines() if '"type":"load"' in line)
    assert f'"lk{OSC}"' in {w["relation"] for w in rec["lock_waits"]}, rec["lock_waits"]


CSI = "\u009b"  # a C1 control: a terminal takes it as ESC [


def test_json_escapes_c1_controls_in_every_record(qshell, hist, tmp_path):
    sql = "SELECT chr(155) || '31mred' AS \"v\u009b\", 'x' AS plain"
    r = qshell(f"{sql};\n\\add {sql} /* \u009b */;\n\\go 1\n\\history\n\\report {tmp_path / 'r.html'}\n",
               "--format", "json")
    assert r.code == 0, r.err
    assert CSI not in r.out and "\x7f" not in r.out, repr(r.out)
    records = [json.loads(line) for line in r.out.splitlines()]
    kinds = [rec["type"] for rec in records]
    assert kinds == ["statement", "query", "run", "run"], kinds
    assert records[0]["rows"] == [[f"{CSI}31mred", "x"]] and records[0]["columns"][0]["name"] == f"v{CSI}"
    assert records[1]["rows"] == [[f"{CSI}31mred", "x"]] and records[1]["sql"].endswith(f"/* {CSI} */")
    assert "\\u009b31mred" in r.out and "/* \\u009b */" in r.out
    assert records[3]["results"][0]["sql"].endswith(f"/* {CSI} */"), records[3]  # the run history's record
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert CSI not in page and '"columns":[{"name":"v\\u009b"' in page  # the page's JSON data block
    # the history's own export
    import contextlib
    import io

    from qshell.store.history import main as history_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert history_main(["dump", "--history-dir", str(hist)]) == 0
    assert CSI not in out.getvalue() and "/* \\u009b */" in out.getvalue()
    assert json.loads(out.getvalue().splitlines()[0])["results"][0]["sql"].endswith(f"/* {CSI} */")


# -- passwords: one redaction for every message that may hold a connection string ----------
URI_PW = "Wr%ZZong"  # a bad %-escape: libpq's error quotes the token alone
KEY_PW = "Secr3t-kv-77"


def _no_password(text: str) -> None:
    for piece in (URI_PW, "ZZong", "Wr%", KEY_PW, "Secr3t"):
        assert piece not in text, (piece, text)


def test_redact_masks_written_given_and_known_passwords():
    from qshell.session.connect import redact

    uri = f"postgresql://u:{URI_PW}@/db"
    assert redact(f'invalid percent-encoded token: "{URI_PW}"', uri) == 'invalid percent-encoded token: "***"'
    assert redact(f"target '{uri}': invalid percent-encoded token: \"{URI_PW}\"", uri) == (
        "target 'postgresql://u:***@/db': invalid percent-encoded token: \"***\"")
    # SQL quoted by an error: masked where it stands, not every "a" of the message
    assert redact("ERROR:  at \"WHERE password = 'a'\"") == "ERROR:  at \"WHERE password = ***\""
    assert redact(f"x password={KEY_PW} host=h") == "x password=*** host=h"
    # the quote around a whole conninfo stays (a history line kept whole): the value goes
    assert redact(f"\\c 'host=h password={KEY_PW}'") == "\\c 'host=h password=***'"
    assert redact(f"x password = '{KEY_PW} b' host=h") == "x password = *** host=h"
    assert redact(f"postgresql:///db?password={KEY_PW}&sslmode=disable") == "postgresql:///db?password=***"
    assert redact(f"said {KEY_PW}", secrets={KEY_PW}) == "said ***"
    assert redact("Wr%5Fong decoded: Wr_ong", "postgresql://u:Wr%5Fong@/db") == "*** decoded: ***"


def test_sweep_targets_compare_and_connect_never_show_a_password(qshell, hist):
    script = "\n".join([
        "\\add SELECT 1;",
        f"\\sweep 1 on postgresql://u:{URI_PW}@/db",
        f"\\sweep 1 on 'password={KEY_PW} port=1'",
        f"\\sweep 1 on \"host=nowhere.invalid password='{KEY_PW} x'\"",
        f"\\compare postgresql://u:{URI_PW}@/db 1",
        f"\\sweep 1 on 'password={KEY_PW}'",  # the test server trusts: it runs, labelled masked
        "\\list", "",
    ])
    r = qshell(script)
    _no_password(r.out + r.err)
    errors = [line for line in r.err.splitlines() if line.startswith("qshell:")]
    assert len(errors) == 4, r.err
    assert errors[0].endswith('invalid percent-encoded token: "***"') and "postgresql://u:***@/db" in errors[0], errors
    assert "'password=*** port=1'" in errors[1] and "connection to server failed" in errors[1], errors
    assert "password=***" in errors[2], errors
    assert "\\compare: no run 'postgresql://u:***@/db'" in errors[3], errors
    assert "password=***" in r.out and r.out.rstrip().endswith("1  SELECT 1"), r.out  # the table; the set kept
    assert "internal error" not in r.err
    for path in hist.rglob("*"):  # the run history keeps the label as shown
        if path.is_file():
            _no_password(path.read_bytes().decode("utf-8", "replace"))
    r = qshell(f"\\add SELECT 1;\n\\sweep 1 on 'password={KEY_PW}'\n", "--format", "json")
    _no_password(r.out + r.err)
    assert json.loads(r.out.splitlines()[-1])["targets"] == ["password=***"]
    r = qshell(f"\\c postgresql://u:{URI_PW}@/db\nSELECT 'not here';\n")
    assert r.code == 2 and "\\connect: " in r.err and "not here" not in r.out
    _no_password(r.out + r.err)
    r = qshell("", f"postgresql://u:{URI_PW}@/db", use_dsn=False)
    assert r.code in (1, 2) and r.err.count("\n") == 1 and '"***"' in r.err, r.err
    _no_password(r.out + r.err)


# -- numbers: ASCII digits, a named range, one line -------------------------------------------
def test_whole_numbers_are_ascii_digits_in_a_range():
    from qshell.common.numbers import is_whole, whole

    assert whole(" +12 ", 1, 100) == 12 and whole("-3", -5, 5) == -3 and whole("007", 1, 10) == 7
    for bad in ("١", "٣", "²", "1_000", "1.0", "", "0x10", "1e3", "9" * 5000):
        with pytest.raises(ValueError, match="expected a whole number from 1 to 100"):
            whole(bad, 1, 100)
    with pytest.raises(ValueError, match="^N must be a whole number from 1 to 10$"):
        whole("11", 1, 10, "N")
    assert is_whole("99999999999999999999") and not is_whole("١") and not is_whole("1a")


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("qshell:")]


def test_numbers_out_of_range_are_one_usage_line_and_lose_nothing(qshell):
    bad = ["\\go 2 x99999999999", "\\history 99999999999999999999", "\\compare 99999999999999999999 1",
           "\\go 0", "\\go 2147483648", "\\drop 99999999999999999999", "\\sandbox init 99999999999999999999",
           "\\sweep 1-99999999999999999", "\\sweep 99999999999999999999", "\\set retries 99999999999999999999",
           "\\go 1 for 99999999999999999999s", "\\go 1 for 1s at 99999999999999999999/s", "\\go " + "9" * 5000]
    r = qshell("\\add SELECT 1;\n\\add SELECT 2;\n" + "\n".join(bad) + "\n\\list\n")
    errors = _errors(r.err)
    assert len(errors) == len(bad), r.err
    assert "internal error" not in r.err and "Traceback" not in r.err and "══" not in r.out
    assert "\\go: R (in xR) must be a whole number from 1 to 10000, got '99999999999'" in errors[0]
    assert "\\history: K must be a whole number from 1 to 2147483647, got '99999999999999999999'" in errors[1]
    assert "\\compare: a run number must be a whole number from -9223372036854775807 to 9223372036854775807" in errors[2]
    assert "N must be a whole number from 1 to 2147483647" in errors[3] and "got '2147483648'" in errors[4]
    assert "K must be a whole number from 1 to 2147483647" in errors[5]
    assert "SCALE must be a whole number from 1 to 2147483647" in errors[6]
    assert "\\sweep: N must be a whole number from 1 to 2147483647" in errors[7] and "to 2147483647" in errors[8]
    assert "\\set retries: expected a whole number from 0 to 1000" in errors[9]
    assert "DURATION must be from 1ms to 7 days" in errors[10] and "RATE must be" in errors[11]
    assert r.out.splitlines()[-2:] == ["1  SELECT 1", "2  SELECT 2"], r.out  # the staged set survives


def test_unicode_digits_are_not_numbers(qshell, hist):
    r = qshell("\\add SELECT 1;\n\\go\n")  # run 1 in the history
    assert r.code == 0, r.err
    bad = ["\\go ١", "\\go 1 x٢", "\\history ١", "\\sweep ١", "\\sweep 1-٣", "\\drop ١", "\\go 1 for ١s",
           "\\go 1 for 1s at ٣/s", "\\set maxrows ١", "\\set workers ٢", "\\set timeout ١s", "\\set retries ²"]
    r = qshell("\\add SELECT 1;\n" + "\n".join(bad) + "\n\\compare ١ 1\n\\set FETCH_COUNT ²\nSELECT 'fetched';\n\\list\n")
    errors = _errors(r.err)
    assert len(errors) == len(bad) + 2, r.err
    assert "══" not in r.out, "a Unicode digit ran the staged set"
    assert "N must be a whole number from 1 to 2147483647, got '١'" in errors[0]
    assert "\\compare: no run '١' in the history (1 runs" in errors[-2]  # a run id, not run 1
    assert errors[-1].endswith('invalid value "²" for "FETCH_COUNT": integer expected')  # as psql (strtol)
    assert "internal error" not in r.err and "fetched" in r.out and r.out.rstrip().endswith("1  SELECT 1")
    r = qshell("", "--scale", "١", "--sandbox")
    assert r.code == 1 and "argument --scale: expected a whole number from 1 to 2147483647, got '١'" in r.err, r.err


# -- output that cannot be written --------------------------------------------------------
def _full_device() -> bool:
    import os
    import stat

    try:
        return stat.S_ISCHR(os.stat("/dev/full").st_mode)
    except OSError:
        return False


def test_g_to_a_full_device_says_so_and_loses_nothing(qshell):
    if not _full_device():
        pytest.skip("no /dev/full")
    r = qshell("SELECT 1 \\g /dev/full\nSELECT generate_series(1, 100000) \\g /dev/full\n\\echo rows :ROW_COUNT\n"
               "BEGIN \\g /dev/full\nSELECT 5 AS five \\gx /dev/full\n\\g\nCOMMIT;\n")
    errors = _errors(r.err)
    assert errors == [f"qshell:<stdin>:{n}: \\{g}: could not write to /dev/full: No space left on device"
                      for n, g in ((1, "g"), (2, "g"), (4, "g"), (5, "gx"))], r.err
    # the statements ran and were taken in: ROW_COUNT, the open transaction, the query buffer
    assert "rows 100000" in r.out and "-[ RECORD 1 ]" not in r.out and "five" in r.out and "COMMIT" in r.out, r.out
    assert "WARNING" not in r.err


def test_stdout_on_a_full_device_is_one_line_per_command(dsn, tmp_path):
    import subprocess

    if not _full_device():
        pytest.skip("no /dev/full")
    from .conftest import clean_env, qshell_argv

    argv = qshell_argv("-X", "--history-dir", str(tmp_path), "-c", "SELECT 1", "-c", "\\echo hi", dsn)
    with open("/dev/full", "w") as full:
        proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, timeout=120, env=clean_env())
    err = proc.stderr.decode()
    assert err.count("could not write to stdout: No space left on device") == 2, err
    assert "internal error" not in err and "Traceback" not in err and "Exception ignored" not in err, err


def test_report_writes_into_a_device_and_through_a_link_never_over_them(qshell, tmp_path):
    """\\report FILE wrote a temporary file beside FILE and renamed it over FILE: given
    /dev/full it said "written" and replaced the device with a regular file."""
    import os
    import stat

    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # a /dev/full of the test's own
    except (OSError, AttributeError):
        pytest.skip("cannot make a device node here (not root)")
    real = tmp_path / "real.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    r = qshell(f"\\add SELECT 1;\n\\go\n\\report {full}\n\\report {link}\n")
    errors = _errors(r.err)
    assert errors == [f"qshell:<stdin>:3: \\report: {full}: No space left on device"], r.err
    assert stat.S_ISCHR(os.stat(full).st_mode), "the device was replaced"
    assert link.is_symlink() and real.read_text().startswith("<!DOCTYPE html>")
    assert f"written to {link}" in r.err


# -- the run history on a full disk -----------------------------------------------------------
def _big_sql() -> str:
    """A staged text of ~400 KB that does not compress: its record cannot fit on the tiny disk."""
    import base64
    import random

    noise = base64.b64encode(random.Random(7).randbytes(300_000)).decode()
    return f"SELECT 2 AS big /* {noise} */"


@pytest.fixture(params=["tmpfs", "max_page_count"])
def tiny_history(request, tmp_path, monkeypatch):
    """A history directory whose disk fills up: on a 256 kB tmpfs (when this process may
    mount one: root), or with SQLite's max_page_count on the history's connection, which
    fails a write with the same "database or disk is full" (SQLITE_FULL) a full disk gives."""
    import os
    import subprocess

    if request.param == "tmpfs":
        mnt = tmp_path / "tiny"
        mnt.mkdir()
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root (the max_page_count case runs)")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mnt)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (the max_page_count case runs): {done.stderr.strip()}")
        yield mnt / "h"
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        return
    from qshell.store.history import RunStore

    prepare = RunStore._prepare

    def small(self) -> None:  # noqa: ANN001
        prepare(self)
        self.db.execute("PRAGMA max_page_count = 24")  # 96 kB of 4 kB pages: a few small runs fit

    monkeypatch.setattr(RunStore, "_prepare", small)
    yield tmp_path / "h"


def test_a_full_disk_under_the_run_history_is_told_and_loses_no_recorded_run(qshell, tiny_history):
    import sqlite3

    script = (f"\\add SELECT 1;\n\\go\n\\go\n\\add {_big_sql()};\n\\go\n\\go\n\\history\n"
              "\\clear\n\\add SELECT 3;\n\\go\n\\history\n")
    r = qshell(script, "--history-dir", str(tiny_history))
    assert "cannot rollback" not in r.err and "internal error" not in r.err, r.err
    warnings = [line for line in r.err.splitlines() if "runs.sqlite" in line]
    assert len(warnings) == 1, r.err  # two runs not recorded, for the same reason: said once
    assert warnings[0].startswith("warning: run not recorded: disk full writing the run history "), warnings
    assert "database or disk is full" in warnings[0], warnings
    assert r.out.count("══ 2 queries") == 2, "the runs themselves are shown"
    # \history after the failures lists runs 1 and 2; after a run that fits, 1 to 3
    history_lines = [line for line in r.out.splitlines() if re.match(r"^\s*\d+\s+\| \d{4}-", line)]
    assert [line.split("|")[0].strip() for line in history_lines] == ["1", "2", "1", "2", "3"], r.out
    db = sqlite3.connect(tiny_history / "runs.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [n for (n,) in db.execute("SELECT number FROM runs ORDER BY number")] == [1, 2, 3]
    db.close()


def test_command_history_on_a_full_disk_keeps_the_line_in_memory():
    """The terminal's command history (prompt_toolkit's FileHistory) raised its OSError
    out of the prompt on a full disk."""
    if not _full_device():
        pytest.skip("no /dev/full")
    from pathlib import Path

    from qshell.shell.histfile import OwnHistory, PsqlHistory

    for kept in (PsqlHistory(Path("/dev/full")),):
        kept.append_string("SELECT 1;")
        assert kept.failed is not None and "No space left on device" in str(kept.failed)
    history = OwnHistory("/dev/full")
    history.append_string("SELECT 1;")  # written to a full disk
    assert history.failed is not None and "No space left on device" in str(history.failed)
    assert list(history.get_strings()) == ["SELECT 1;"]


def test_history_and_compare_show_a_stored_records_text_escaped(qshell, hist):
    """runs.sqlite is a file another program may have written: \\history and \\compare
    show its labels, modes and statuses escaped, as tables show data."""
    from qshell.store.history import RunStore

    store, _ = RunStore.open(hist)
    assert store is not None
    for k in (1, 2):
        store.append({"type": "run", "run_id": f"r{k}", "started_at": 1.0, "n": 1, "wall_ms": 1.0, "overlap": 1.0,
                      "label": f"lbl{OSC}", "mode": f"tx {OSC}", "fingerprint": f"fp{OSC}",
                      "results": [{"index": 1, "sql": f"SELECT {OSC}", "status": f"ok{OSC}", "total_ms": 1.0}]})
    store.close()
    r = qshell("\\history\n\\compare 1 2\n")
    assert r.code == 0, r.err
    assert not RAW.search(r.out + r.err), repr(r.out)
    assert "lbl\\x1B]0;pwned\\x07" in r.out and "tx \\x1B]0;pwned\\x07" in r.out
