"""Recognising a connection pooler (PgBouncer) between qshell and the server.

Behind PgBouncer in transaction (or statement) pooling, a client connection is lent a
server connection for one transaction at a time: N workers may share fewer backends,
the extra workers then wait in PgBouncer's queue (and qshell would measure that queue),
and what a worker SETs for its session lands on whichever backend it had at that moment
(and stays there, for other clients).

``detect(conn, dsn)`` recognises a pooler without any configuration:

1. the backend pid libpq got when the connection opened (the ``BackendKeyData``
   message, ``conn.get_backend_pid()``) is the one ``SELECT pg_backend_pid()`` returns
   on a direct connection; PgBouncer sends a cancel key of its own instead, so the two
   differ behind it (any pooling mode);
2. then, when reachable, PgBouncer's admin console (database ``pgbouncer`` on the same
   host and port, the same user, who must be in its ``admin_users`` or ``stats_users``)
   says the pool's mode and size: ``SHOW DATABASES`` (``pool_size``, ``pool_mode``),
   ``SHOW POOLS`` (the mode in force and the clients and servers now) and ``SHOW
   CONFIG`` (``default_pool_size``, ``pool_mode``, ``max_client_conn``).

Costs one round trip on an open connection, and one connection to the admin console
only when a pooler was seen. Nothing here needs gevent; blocking is bounded by libpq's
``connect_timeout`` (or the caller's gevent.Timeout in green mode).
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import make_dsn, parse_dsn

ADMIN_DB = "pgbouncer"


@dataclass(frozen=True, slots=True)
class Pooler:
    """A pooler in front of the server, as far as it could be known."""

    key_pid: int  # the pid in libpq's BackendKeyData (PgBouncer's cancel key)
    backend_pid: int  # pg_backend_pid() of the backend that answered
    kind: str = "pooler"  # "pgbouncer" when its admin console answered
    version: str | None = None  # "1.18.0/bouncer": the admin console's server_version
    pool_mode: str | None = None  # session, transaction, statement
    pool_size: int | None = None  # server connections for this database/user pool
    reserve_pool: int | None = None
    max_client_conn: int | None = None
    clients: int | None = None  # cl_active + cl_waiting of this pool now
    admin_error: str | None = None  # why the admin console could not be read
    # the server behind it for this database (SHOW DATABASES: host or socket directory, port, name)
    server: tuple[str, str, str] | None = None

    @property
    def transaction_pooling(self) -> bool | None:
        """True when a client may get another backend for its next transaction (the mode
        is transaction or statement), False in session pooling, None when unknown."""
        if self.pool_mode is None:
            return None
        return self.pool_mode != "session"

    @property
    def servers(self) -> int | None:
        """The most server connections this pool can use at once (size + reserve)."""
        if self.pool_size is None:
            return None
        return self.pool_size + (self.reserve_pool or 0)

    def describe(self) -> str:
        what = "PgBouncer" if self.kind == "pgbouncer" else "a connection pooler"
        if self.version:
            what += f" {self.version.split('/')[0]}"
        parts = []
        if self.pool_mode:
            parts.append(f"{self.pool_mode} pooling")
        if self.pool_size is not None:
            parts.append(f"pool size {self.pool_size}" + (f" + reserve {self.reserve_pool}" if self.reserve_pool else ""))
        return what + (f" ({', '.join(parts)})" if parts else "")

    def capacity_notices(self, n: int, extra: int = 0, direct: str | None = None) -> list[str]:
        """What a DBA must know before ``n`` workers (``extra``: qshell's side connection)
        run through this pooler: warnings, never a refusal (the pooler queues clients).
        ``direct``: where the sampler reaches the server itself ("host:port"), if it does."""
        notices: list[str] = []
        servers = self.servers
        if servers is not None and n > servers:
            notices.append(
                f"warning: {n} workers behind {self.describe()}: at most {servers} queries run on the server at once;"
                f" the other {n - servers} workers wait in the pooler's queue (shown as pool wait, kept out of their run"
                f" times), and the bound and efficiency count {servers} server connections")
        elif servers is None:
            why = f" ({self.admin_error})" if self.admin_error else ""
            notices.append(
                f"warning: behind {self.describe()}: the pool size is unknown{why}; if it is below {n},"
                " the extra workers wait in the pooler's queue (shown as pool wait), and the bound and efficiency"
                " count N servers")
        if self.transaction_pooling is not False:
            notices.append(
                f"warning: behind {self.describe()} a worker may get another server backend at every transaction:"
                " each staged query runs in a transaction of its own, its pid taken inside it;"
                + (f" wait events are sampled on the server itself ({direct}), outside the pool" if direct else
                   " the sampler's queries wait in the same pool (a saturated pool delays or hides its samples)"))
        return notices


def backend_pids(conn) -> tuple[int, int]:  # noqa: ANN001
    """(libpq's BackendKeyData pid, ``pg_backend_pid()``) on an open autocommit connection."""
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    return conn.get_backend_pid(), int(cur.fetchone()[0])


def admin_dsn(dsn: str) -> str:
    """The conninfo of PgBouncer's admin console: ``dsn`` with dbname ``pgbouncer``
    (the same host, port, user and password)."""
    return make_dsn(dsn, dbname=ADMIN_DB)


def read_admin(dsn: str, dbname: str, user: str | None, password: str | None = None, connect_timeout: int = 5) -> dict:
    """The pool of ``dbname``/``user`` as PgBouncer's admin console shows it.

    Raises psycopg2.Error when the console cannot be reached or refuses us."""
    extra: dict[str, str] = {"connect_timeout": str(connect_timeout)}
    if password is not None:
        extra["password"] = password
    conn = psycopg2.connect(admin_dsn(dsn), **extra)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        found: dict = {"version": conn.info.parameter_status("server_version")}

        def table(sql: str) -> list[dict]:
            cur.execute(sql)
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        config = {row["key"]: row["value"] for row in table("SHOW CONFIG")}
        found["pool_mode"] = config.get("pool_mode")
        found["pool_size"] = int(config["default_pool_size"]) if config.get("default_pool_size") else None
        found["reserve_pool"] = int(config["reserve_pool_size"]) if config.get("reserve_pool_size") else None
        found["max_client_conn"] = int(config["max_client_conn"]) if config.get("max_client_conn") else None
        for row in table("SHOW DATABASES"):
            if row.get("name") == dbname:
                if row.get("port") is not None:
                    found["server"] = (str(row.get("host") or "/tmp"), str(row["port"]), str(row.get("database") or dbname))
                if row.get("pool_size") is not None:
                    found["pool_size"] = int(row["pool_size"])
                if row.get("reserve_pool") is not None:
                    found["reserve_pool"] = int(row["reserve_pool"])
                if row.get("pool_mode"):
                    found["pool_mode"] = row["pool_mode"]
        for row in table("SHOW POOLS"):
            if row.get("database") == dbname and (user is None or row.get("user") == user):
                found["clients"] = int(row.get("cl_active") or 0) + int(row.get("cl_waiting") or 0)
                if row.get("pool_mode"):
                    found["pool_mode"] = row["pool_mode"]  # the mode in force for this pool
        return found
    finally:
        conn.close()


def detect(conn, dsn: str, password: str | None = None, *, admin: bool = True) -> Pooler | None:  # noqa: ANN001
    """The pooler between ``conn`` (open, autocommit, made from ``dsn``) and the server,
    or None on a direct connection. ``admin``: ask PgBouncer's admin console for the
    pool's mode and size (one short connection)."""
    key_pid, backend_pid = backend_pids(conn)
    if key_pid == backend_pid:
        return None
    if not admin:
        return Pooler(key_pid=key_pid, backend_pid=backend_pid)
    info = conn.info
    try:
        target = parse_dsn(dsn)
    except psycopg2.Error:
        target = {}
    # the admin console on the very host and port this connection reached (a multi-host
    # dsn names several): those libpq reports for the open connection
    where = {k: v for k, v in (("host", info.host), ("port", str(info.port) if info.port else None),
                               ("user", info.user)) if v}
    console = make_dsn(dsn, **where) if where else dsn
    try:
        found = read_admin(console, info.dbname or target.get("dbname") or "", info.user, password)
    except psycopg2.Error as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        return Pooler(key_pid=key_pid, backend_pid=backend_pid, admin_error=f"admin console: {text}")
    return Pooler(key_pid=key_pid, backend_pid=backend_pid, kind="pgbouncer", version=found.get("version"),
                  pool_mode=found.get("pool_mode"), pool_size=found.get("pool_size"),
                  reserve_pool=found.get("reserve_pool"), max_client_conn=found.get("max_client_conn"),
                  clients=found.get("clients"), server=found.get("server"))
