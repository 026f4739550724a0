"""What one shell is connected to: the libpq target, the user's own session connection
(``user``, what psql would be), the engine's worker pool (``pool``), the sandbox if any.

Two connections, two names: a statement the user types runs on ``user``; a staged
query runs on one of ``pool``'s connections. Never the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from qshell.common.errors import UsageError
from qshell.engine.database import Database
from qshell.session.connect import describe, is_conninfo, password_in, reconnect_dsn
from qshell.session.sandbox import Sandbox
from qshell.session.usersession import UserSession


@dataclass
class Session:
    dsn: str
    user: UserSession  # the user's session: plain statements, BEGIN … COMMIT, temp tables, SET
    pool: Database  # the workers' pool and qshell's side connection (sampler, catalog)
    sandbox: Sandbox | None = None
    params: dict[str, str] = field(default_factory=dict)  # libpq's view, no password

    @classmethod
    def open(cls, dsn: str, password: str | None = None, sandbox: Sandbox | None = None) -> "Session":
        """Connect the user's session (ConnectionFailed otherwise); the pool connects
        at the first run."""
        pool = Database(dsn, password)
        user = UserSession(connect=pool.connect, lent=pool.lent)
        pool.own_session = user.own  # a worker blocked by this session is told so (pool.QueryPool._watch)
        try:
            user.open()
            params = user.params()
        except BaseException:
            user.close()
            pool.close()
            raise
        return cls(dsn, user, pool, sandbox, params)

    def reconnect(self, args: tuple[str, ...], password: str | None = None) -> "Session":
        """A new session for ``\\c ARGS``; this one is left untouched if that fails.
        ``password``: one typed for it (psql's prompt when the server asked for one)."""
        dsn = reconnect_dsn(self.dsn, args)
        if password is not None:
            return Session.open(dsn, password, self.sandbox)
        # a password written in the new conninfo wins over the one typed for -W; the typed
        # one is reused only for the same user, host and port, and not after a conninfo
        # (psql's \\c reuses nothing of the previous connection for one)
        explicit = password_in(" ".join(args)) is not None or any(map(password_in, args))
        same = where_to(self.dsn) == where_to(dsn) and not any(map(is_conninfo, args))
        return Session.open(dsn, None if explicit or not same else self.pool._password, self.sandbox)

    def reconnect_user(self, args: tuple[str, ...]) -> str:
        """The role ``\\c ARGS`` logs in as (for psql's password prompt)."""
        return login_user(reconnect_dsn(self.dsn, args))

    def set_readonly(self, on: bool) -> None:
        """``default_transaction_read_only`` for the user's session and the workers'.

        Raises UsageError behind a transaction pooler: the user's session would make it
        a session ``SET`` on whichever backend the pooler lent, which does not hold for
        the next statement and stays there for the pooler's other clients."""
        if on and self.user.conn is not None and self.pool.lent_by_transaction_pooler(self.user.conn):
            found = self.pool.pooler()
            raise UsageError(f"read-only (\\set readonly, --read-only) cannot be kept behind {found.describe() if found else 'a pooler'}:"
                             " your session's SET default_transaction_read_only would land on a backend lent for one"
                             " transaction and stay there for the pooler's other clients; connect to the server,"
                             " or to a session-pooling database")
        self.user.set_readonly(on)
        self.pool.set_readonly(on)

    @property
    def dbname(self) -> str:
        return self.params.get("dbname", "?")

    @property
    def server_version(self) -> str:
        return self.params.get("server_version", "?")

    def target(self) -> str:
        """user@host:port/db for records and banners (never a password)."""
        p = self.params
        return f"{p.get('user', '?')}@{p.get('host', '?')}:{p.get('port', '?')}/{p.get('dbname', '?')}"

    def conninfo(self) -> str:
        text = describe(self.params)
        if self.sandbox is not None:
            text += f"\nThis is qshell's embedded sandbox server (data in {self.sandbox.directory})."
        return text

    def close(self) -> None:
        self.user.close()
        self.pool.close()


def needs_password(exc: BaseException) -> bool:
    """The connection failed because the server asked for a password and none was given
    (libpq's PQconnectionNeedsPassword, as its message says it): psql then asks for one."""
    return "no password supplied" in str(exc)


def login_user(dsn: str) -> str:
    """The role a conninfo logs in as: its own user, else PGUSER, else the OS user (libpq's order)."""
    import getpass
    import os

    user = where_to(dsn)[0] if "=" in dsn or "://" in dsn else None
    return user or os.environ.get("PGUSER") or getpass.getuser()


def where_to(dsn: str) -> tuple[str | None, str | None, str | None]:
    """(user, host, port) a conninfo or URI names (None where it names none)."""
    from psycopg2.extensions import parse_dsn

    try:
        p = parse_dsn(dsn)
    except Exception:  # noqa: BLE001 - unparsable: treated as another target
        return (dsn, None, None)
    return p.get("user"), p.get("host"), p.get("port")
