"""SIGHUP (the terminal closed) and SIGTERM: qshell leaves as at \\q, whatever it was doing.

At the prompt, during a plain statement, during a staged run, in a piped script: the
process ends within seconds with 128 + the signal (129, 143), no traceback, nothing of
its own left running on the server, and the sandbox stopped when it was the last user.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pexpect
import pytest

from .conftest import active_queries, wait_until

PROMPT = "postgres=>"
QUICK = 5.0  # "within a couple of seconds", with room for a loaded test machine
SIGNALS = [pytest.param(signal.SIGHUP, id="SIGHUP"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.fixture
def term(dsn, hist, qshell_pty):
    child = qshell_pty("--history-dir", str(hist), dsn, timeout=60)
    child.expect("qshell 0.1")
    child.expect_exact(PROMPT)
    return child


def _active(dsn: str, marker: str) -> int:
    """Queries of ours (holding ``marker``) running on the server now."""
    return active_queries(dsn, marker)


def _wait_active(dsn: str, marker: str, count: int) -> None:
    assert wait_until(lambda: _active(dsn, marker) >= count, 20), f"the queries never started ({marker})"


def _marker() -> str:
    return "hup_" + uuid.uuid4().hex[:12]


def _ends(child: pexpect.spawn, signum: int, within: float = QUICK) -> str:
    """Send ``signum``; the process must end quietly with 128 + signum within ``within`` s."""
    start = time.monotonic()
    child.kill(signum)
    try:
        child.expect(pexpect.EOF, timeout=within)
    except pexpect.TIMEOUT:
        pytest.fail(f"qshell still running {within:g} s after {signal.Signals(signum).name}")
    child.close()
    seen = child.logfile_read.getvalue()
    assert child.signalstatus is None, seen[-2000:]
    assert child.exitstatus == 128 + signum, seen[-2000:]
    assert time.monotonic() - start < within
    assert "Traceback" not in seen and "internal error" not in seen, seen[-2000:]
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("signum", SIGNALS)
@pytest.mark.parametrize("before", ["fresh", "after a statement", "half a line typed"])
def test_at_the_prompt(term, signum, before):
    if before == "after a statement":
        term.sendline("SELECT 'done' || '!' AS d;")
        term.expect("done!")
        term.expect_exact(PROMPT)
    elif before == "half a line typed":
        term.send("SELECT 'never sent'")
    time.sleep(0.3)  # the prompt is up and waiting
    seen = _ends(term, signum)
    if before == "half a line typed":
        assert "(1 row)" not in seen  # the half line is not run


@pytest.mark.parametrize("signum", SIGNALS)
def test_during_a_plain_statement_it_is_cancelled_on_the_server(term, dsn, signum):
    marker = _marker()
    term.sendline(f"SELECT pg_sleep(30) AS {marker};")
    _wait_active(dsn, marker, 1)
    _ends(term, signum)
    assert _active(dsn, marker) == 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", SIGNALS)
def test_during_a_staged_run_every_query_is_cancelled_on_the_server(term, dsn, signum):
    marker = _marker()
    term.sendline(f"\\add SELECT pg_sleep(30) AS {marker}_1;")
    term.expect_exact("postgres[1]=>")
    term.sendline(f"\\add SELECT pg_sleep(30) AS {marker}_2;")
    term.expect_exact("postgres[2]=>")
    term.sendline("\\go 2")
    _wait_active(dsn, marker, 2)
    _ends(term, signum)
    assert _active(dsn, marker) == 0


def test_during_an_included_file_the_rest_of_it_is_not_run(term, dsn, tmp_path):
    marker = _marker()
    script = tmp_path / "two.sql"
    script.write_text(f"SELECT pg_sleep(30) AS {marker}_1;\nSELECT pg_sleep(30) AS {marker}_2;\n")
    term.sendline(f"\\i {script}")
    _wait_active(dsn, marker + "_1", 1)
    _ends(term, signal.SIGTERM)
    assert _active(dsn, marker) == 0


@pytest.mark.slow
def test_terminal_closed_right_after_the_start(dsn, hist, qshell_pty):
    """The terminal really goes away (the kernel sends SIGHUP), before the catalog for
    completion has loaded in the background: closing its connection must not hang."""
    child = qshell_pty("--history-dir", str(hist), dsn, timeout=60)
    child.expect_exact(PROMPT)
    pid = child.pid
    os.close(child.child_fd)  # the terminal window is closed
    deadline = time.monotonic() + QUICK
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("qshell still running after its terminal closed")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 129


@pytest.mark.slow
@pytest.mark.parametrize("signum", SIGNALS)
def test_piped_script_running_a_statement(dsn, hist, signum, qshell_pipe):
    marker = _marker()
    proc = qshell_pipe("--history-dir", str(hist), dsn)
    proc.stdin.write(f"SELECT pg_sleep(30) AS {marker};\nSELECT 'not run' AS after;\n".encode())
    proc.stdin.flush()  # the pipe stays open
    _wait_active(dsn, marker, 1)
    proc.send_signal(signum)
    code = proc.wait(timeout=QUICK)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    assert code == 128 + signum, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "not run" not in out  # the next statement is not started
    assert _active(dsn, marker) == 0


def test_piped_script_in_an_included_file(dsn, hist, tmp_path, qshell_pipe):
    marker = _marker()
    script = tmp_path / "two.sql"
    script.write_text(f"SELECT pg_sleep(30) AS {marker}_1;\nSELECT pg_sleep(30) AS {marker}_2;\n")
    proc = qshell_pipe("--history-dir", str(hist), "-c", f"\\i {script}", dsn, stdin=None)
    _wait_active(dsn, marker + "_1", 1)
    proc.send_signal(signal.SIGHUP)
    code = proc.wait(timeout=QUICK)
    err = proc.stderr.read().decode()
    assert code == 129, err
    assert _active(dsn, marker) == 0


@pytest.mark.parametrize("signum", SIGNALS)
def test_piped_script_waiting_for_input(dsn, hist, signum, qshell_pipe):
    proc = qshell_pipe("--history-dir", str(hist), dsn)
    proc.stdin.write(b"SELECT 'rea' || 'dy' AS r;\n")
    proc.stdin.flush()
    seen = b""
    deadline = time.monotonic() + 30
    while b"ready" not in seen:
        assert time.monotonic() < deadline, seen
        chunk = os.read(proc.stdout.fileno(), 4096)
        assert chunk, proc.stderr.read()
        seen += chunk
    proc.send_signal(signum)
    code = proc.wait(timeout=QUICK)
    err = proc.stderr.read().decode()
    assert code == 128 + signum, err
    assert "Traceback" not in err, err


# -- the sandbox (slow: a server of its own) ----------------------------------------------

def _postmaster_pid(box: Path) -> int | None:
    try:
        return int((box / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _server_stopped(box: Path, wait: float = 10) -> bool:
    """No postmaster.pid and no postgres process for ``box`` (within ``wait`` seconds)."""
    import psutil

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _postmaster_pid(box) is None and not any(
                p.info["name"] == "postgres" and str(box) in " ".join(p.info["cmdline"] or [])
                for p in psutil.process_iter(["name", "cmdline"])):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_hangup_at_the_prompt_stops_the_sandbox_of_its_last_user(sandbox_tmp, qshell_pty):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    box = tmp_path / "box"
    child = qshell_pty("--sandbox", "--sandbox-dir", str(box), "--history-dir", str(tmp_path / "hist"), timeout=60)
    try:
        child.expect("sandbox PostgreSQL", timeout=180)
        child.expect_exact(PROMPT)
        assert _postmaster_pid(box) is not None
        time.sleep(0.3)
        _ends(child, signal.SIGHUP, within=30)  # stopping the server takes its time
        assert _server_stopped(box), "qshell was the sandbox's last user: the server must stop"
    finally:
        if child.isalive():
            child.terminate(force=True)
        pid = _postmaster_pid(box)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)  # fast shutdown, if the test failed
            except OSError:
                pass
            _server_stopped(box)
