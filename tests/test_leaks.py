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
