"""Small fixes, each checked against the real server (or a real process) as psql would behave."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qshell.store.history import RunStore

from .conftest import clean_env, qshell_argv

# -- settings are range-checked ---------------------------------------------------------


def test_timeout_out_of_range_is_refused_and_queries_still_run(qshell):
    r = qshell("\\set timeout 99999999999s\n\\set timeout\n\\add SELECT 1 AS one;\n\\go\n")
    errors = [line for line in r.err.splitlines() if line.strip()]
    assert len(errors) == 1, r.err
    assert "\\set timeout" in errors[0] and "2147483647ms" in errors[0]
    assert "timeout = off" in r.out  # the bad value was not taken
    assert "1 query" in r.out and "1 queries" not in r.out
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
    {"overlap": "2"},
    {"started_at": 1e300},
]


def test_runs_of_the_wrong_type_are_skipped_as_damaged(qshell, hist, tmp_path):
    r = qshell("\\add SELECT 1;\n\\go 1\n\\go 1\n")
    assert r.code == 0, r.err
    goods = list(RunStore.open(hist, create=False)[0].dump())
    good = goods[0]
    older = tmp_path / "older"  # the same runs in an older qshell's runs.jsonl, imported once
    older.mkdir()
    with (older / "runs.jsonl").open("w") as f:
        for rec in goods:
            f.write(json.dumps(rec) + "\n")
        for bad in BAD_RUNS:
            f.write(json.dumps({**good, **bad}) + "\n")
    r = qshell("\\history\n\\compare 1 2\n\\compare 1 -1\n\\add SELECT 1;\n\\go 1\n", "--history-dir", str(older))
    assert "internal error" not in r.err, r.err
    assert r.code == 0, r.err
    assert f"skipped {len(BAD_RUNS)} damaged line(s)" in r.err
    table = r.out.split("run 1 ms")[0]
    assert table.count(good["fingerprint"]) == 2  # the two good runs are listed, no other
    assert "run 1 ms" in r.out and "run 2 ms" in r.out


# -- passwords never echoed -------------------------------------------------------------

SECRET = "pa%zzss"  # badly percent-encoded: libpq quotes the token back in its error


@pytest.mark.slow
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
        for line in (f"\\c {uri}\n", f"\\c '{uri}'\n"):
            r = qshell_proc(line + "SELECT 'not here' AS s;\n")  # a failed \c stops a script, as psql
            assert r.code == 2 and "\\connect: " in r.err and "not here" not in r.out
            assert SECRET not in r.out + r.err and "zzss" not in r.out + r.err, (uri, r.err)


# -- a role that needs its password (the test server trusts everyone else) ----------------

PW_ROLE, PW = "qshell_pw_role", "right-pw"


def _wait_for_auth(dsn: str, must_fail: bool) -> None:
    import psycopg2

    for _ in range(100):
        try:
            psycopg2.connect(dsn, user=PW_ROLE, dbname="postgres").close()
            ok = True
        except psycopg2.OperationalError:
            ok = False
        if ok != must_fail:
            return
        time.sleep(0.05)
    raise AssertionError("pg_hba.conf reload not seen")


@pytest.fixture
def pw_role(dsn):
    """A login role with scram-sha-256 authentication, added at the top of pg_hba.conf."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SHOW hba_file")
    hba = Path(cur.fetchone()[0])
    if not os.access(hba, os.W_OK):
        pytest.skip("pg_hba.conf of the test server is not writable here")
    original = hba.read_text()
    cur.execute(f"DROP ROLE IF EXISTS {PW_ROLE}")
    cur.execute(f"CREATE ROLE {PW_ROLE} LOGIN PASSWORD '{PW}'")
    hba.write_text(f"local all {PW_ROLE} scram-sha-256\nhost all {PW_ROLE} all scram-sha-256\n" + original)
    cur.execute("SELECT pg_reload_conf()")
    _wait_for_auth(dsn, must_fail=True)
    try:
        yield PW_ROLE, PW
    finally:
        hba.write_text(original)
        cur.execute("SELECT pg_reload_conf()")
        _wait_for_auth(dsn, must_fail=False)
        cur.execute(f"DROP ROLE IF EXISTS {PW_ROLE}")
        conn.close()


def test_explicit_password_in_reconnect_wins_over_the_typed_one(dsn, pw_role):
    from qshell.session.session import Session

    user, password = pw_role
    first = Session.open(dsn, "typed-for-W")  # the -W password (the trusted superuser ignores it)
    host, port = first.params["host"], first.params["port"]
    try:
        new = first.reconnect((f"dbname=postgres user={user} host={host} port={port} password={password}",))
        assert new.params["user"] == user
        new.close()
        uri = f"postgresql://{user}:{password}@/postgres?host={host}&port={port}"
        new = first.reconnect((uri,))
        assert new.params["user"] == user
        new.close()
    finally:
        first.close()


def test_the_typed_password_is_reused_only_for_the_same_user_host_and_port(dsn, pw_role):
    from qshell.common.errors import QshellError
    from qshell.session.session import Session

    user, password = pw_role
    probe = Session.open(dsn, None)
    host, port, superuser = probe.params["host"], probe.params["port"], probe.params["user"]
    probe.close()
    first = Session.open(f"dbname=postgres user={user} host={host} port={port}", password)  # -W as that role
    try:
        again = first.reconnect(("postgres",))  # \c postgres: same user, host, port: the password goes along
        assert again.params["user"] == user
        again.close()
        other = Session.open(f"dbname=postgres user={superuser} host={host} port={port}", password)  # trusted anyway
        try:
            with pytest.raises(QshellError):  # \c - USER: another user: the typed password is not handed to it
                other.reconnect(("-", user))
        finally:
            other.close()
    finally:
        first.close()


# -- -W reads the terminal, never the script -----------------------------------------------

MARKER_SCRIPT = "SELECT 'script' || '-ran' AS marker;\n"


def test_password_prompt_without_a_terminal_fails_and_leaves_stdin(dsn, hist, tmp_path):
    script = tmp_path / "script.sql"
    script.write_text(MARKER_SCRIPT)
    with script.open("rb") as f:
        p = subprocess.run(qshell_argv("--history-dir", str(hist), "-W", dsn), stdin=f,
                           capture_output=True, timeout=60, env=clean_env(), start_new_session=True)  # no controlling tty
        consumed = os.lseek(f.fileno(), 0, os.SEEK_CUR)  # the offset is shared with the child
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 2, err
    assert err.count("\n") == 1 and "-W: no terminal to read the password from" in err
    assert "script-ran" not in out and "Warning" not in err
    assert consumed == 0  # the script was not read as a password


def test_password_prompt_reads_the_terminal_while_the_script_comes_on_stdin(dsn, hist, tmp_path, pw_role):
    import pexpect

    user, password = pw_role
    script = tmp_path / "script.sql"
    script.write_text(MARKER_SCRIPT)
    cmd = f"exec {sys.executable} -m qshell --history-dir {hist} -W -U {user} '{dsn}' < {script}"
    child = pexpect.spawn("/bin/sh", ["-c", cmd], env=clean_env(PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm"),
                          encoding="utf-8", timeout=30)
    try:
        child.expect_exact("Password for user ")  # (psql's words)
        child.sendline(password)
        child.expect_exact("script-ran")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert password not in child.before


# -- a closed output pipe ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("both", [False, True], ids=["stdout", "stdout-and-stderr"])
def test_output_piped_into_head_ends_quietly(dsn, hist, both):
    # head exits after one line; qshell then writes into a pipe with no reader
    argv = qshell_argv("--history-dir", str(hist), dsn, "-c", "SELECT 1 AS first",
            "-c", "SELECT pg_sleep(0.5)", "-c", "SELECT generate_series(1,100000)", "-c", "SELECT 1/0")
    qs = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT if both else subprocess.PIPE,
                          env=clean_env())
    head = subprocess.run(["head", "-1"], stdin=qs.stdout, capture_output=True, timeout=60)
    qs.stdout.close()
    err = b"" if both else qs.stderr.read()
    code = qs.wait(timeout=60)
    assert head.stdout.decode().startswith(" first")
    assert err.decode() == ""  # no "internal error: BrokenPipeError", no "Exception ignored"
    assert code == 141  # as a shell reports psql, which the SIGPIPE kills (128 + 13)


# -- the sandbox: concurrent first starts, killed users, SIGHUP (slow: one server each) -----

def _sandbox_cmd(box: Path, hist: Path, *args: str) -> list[str]:
    return qshell_argv("--sandbox", "--sandbox-dir", str(box), "--history-dir", str(hist), *args)


def _postmaster_pid(box: Path) -> int | None:
    try:
        return int((box / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stopped(box: Path, wait: float = 10) -> bool:
    """No postmaster.pid and no server process for ``box`` (within ``wait`` seconds)."""
    import psutil

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pid = _postmaster_pid(box)
        if pid is None and not any(str(box) in " ".join(p.info["cmdline"] or []) and p.info["name"] == "postgres"
                                   for p in psutil.process_iter(["name", "cmdline"])):
            return True
        time.sleep(0.1)
    return False


def _stop_server(box: Path) -> None:
    pid = _postmaster_pid(box)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGINT)  # fast shutdown, if a test left it running
        except OSError:
            pass
        _stopped(box)


def _started(box: Path, hist: Path) -> subprocess.Popen:
    """A qshell on the sandbox reading a script from a pipe left open, once it has answered."""
    proc = subprocess.Popen(_sandbox_cmd(box, hist), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=clean_env())
    proc.stdin.write(b"SELECT 'ready' || '!' AS r;\n")
    proc.stdin.flush()
    deadline, seen = time.monotonic() + 120, b""
    while b"ready!" not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, proc.stderr.read()
            seen += chunk
    return proc


@pytest.mark.slow
def test_two_first_starts_at_once_share_one_sandbox(sandbox_tmp):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    box = tmp_path / "box"
    try:
        procs = [subprocess.Popen(_sandbox_cmd(box, tmp_path / f"h{i}", "-c", "SELECT 1 AS one"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env()) for i in range(2)]
        results = [(p.wait(timeout=180), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
        for code, out, err in results:
            assert code == 0, err
            assert "Errno 17" not in err and "one" in out
        assert _stopped(box)  # the last one out stopped it
    finally:
        _stop_server(box)


@pytest.mark.slow
def test_killed_or_hung_up_qshell_does_not_keep_the_sandbox_running(sandbox_tmp):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    box, hist = tmp_path / "box", tmp_path / "hist"
    try:
        killed = _started(box, hist)
        killed.kill()  # SIGKILL: its pid stays registered with the server
        killed.wait(timeout=30)
        p = subprocess.run(_sandbox_cmd(box, hist, "-c", "SELECT 2 AS two"), capture_output=True, timeout=180,
                           env=clean_env())
        assert p.returncode == 0, p.stderr.decode()
        assert _stopped(box), "the last live qshell left: the server must stop"

        hung = _started(box, hist)  # its script pipe stays open: it waits for more input
        hung.send_signal(signal.SIGHUP)
        code = hung.wait(timeout=60)
        assert code == 129, hung.stderr.read().decode()
        assert b"Traceback" not in hung.stderr.read()
        assert _stopped(box)
    finally:
        _stop_server(box)
