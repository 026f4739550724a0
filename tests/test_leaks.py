"""Small leaks closed, each checked on the real server (or a real process) as psql or a
careful DBA tool behaves: server-supplied names in the lock lines escaped, C1 controls
escaped in JSON, passwords redacted from every message that may quote a connection
string, user numbers parsed one way (ASCII digits, a named range), output and run-history
write failures told as what they are."""
from __future__ import annotations

import json
import re

from qshell.conflicts import Deadlock, LockWait, lock_lines

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


def test_relation_name_escaped_in_the_lock_graph_of_a_run(qshell):
    r = qshell(_lock_script(LOCKED, "\\go 2"))
    assert r.code == 0, r.err
    assert "lock waits (waiter → holder" in r.out, r.out
    assert "#2 → #1 · ShareLock (transactionid) · \"lk\\x1B]0;pwned\\x07\"" in r.out, r.out
    assert not RAW.search(r.out + r.err), repr(r.out + r.err)


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

    from qshell.history import main as history_main

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
    from qshell.connect import redact

    uri = f"postgresql://u:{URI_PW}@/db"
    assert redact(f'invalid percent-encoded token: "{URI_PW}"', uri) == 'invalid percent-encoded token: "***"'
    assert redact(f"target '{uri}': invalid percent-encoded token: \"{URI_PW}\"") == (
        "target 'postgresql://u:***@/db': invalid percent-encoded token: \"***\"")
    assert redact(f"x password={KEY_PW} host=h") == "x password=*** host=h"
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
