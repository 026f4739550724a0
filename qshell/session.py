"""The connection a shell works on: libpq target, its Database (pool), and the sandbox if any."""
from __future__ import annotations

from dataclasses import dataclass, field

from .connect import describe, password_in, reconnect_dsn
from .pool import Database
from .sandbox import Sandbox


@dataclass
class Session:
    dsn: str
    db: Database
    sandbox: Sandbox | None = None
    params: dict[str, str] = field(default_factory=dict)  # libpq's view, no password

    @classmethod
    def open(cls, dsn: str, password: str | None = None, sandbox: Sandbox | None = None) -> "Session":
        """Connect once to check the target (ConnectionFailed otherwise)."""
        db = Database(dsn, password)
        try:
            params = db.info()
        except BaseException:
            db.close()
            raise
        return cls(dsn, db, sandbox, params)

    def reconnect(self, args: tuple[str, ...]) -> "Session":
        """A new session for ``\\c ARGS``; this one is left untouched if that fails."""
        dsn = reconnect_dsn(self.dsn, args)
        # a password written in the new conninfo wins over the one typed for -W (as psql)
        explicit = password_in(" ".join(args)) is not None or any(map(password_in, args))
        return Session.open(dsn, None if explicit else self.db._password, self.sandbox)

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
        self.db.close()
