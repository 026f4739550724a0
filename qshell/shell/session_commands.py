"""psql's commands about the session itself: ``\\conninfo``, ``\\encoding``, ``\\password``.

A command group the ``Shell`` holds (as ``DescribeCommands``). What they show is what
libpq says about the user's own connection (psycopg2's ``connection.pgconn_ptr``, asked
through the same libpq psycopg2 is linked with, ``qshell.engine.libpq``), as psql asks
its own; what they send is what psql sends (``\\encoding``: libpq's ``set
client_encoding to '…'``; ``\\password``: ``ALTER USER … PASSWORD 'SCRAM-SHA-256$…'``
with the verifier computed here, never the password).

And what psql does around the statements it sends, as its SendQuery and PSQLexec do:
``begin_for`` / ``end_savepoint`` (AUTOCOMMIT off's BEGIN, ON_ERROR_ROLLBACK's savepoint),
``echo_hidden`` (ECHO_HIDDEN's frame), ``sync_encoding`` (:ENCODING), ``sync_verbosity``
(VERBOSITY, SHOW_CONTEXT on the libpq connection), ``remember_error`` (\\errverbose).
"""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Protocol

from qshell.common.errors import QshellError, UsageError
from qshell.shell.host import ShellHost, _Failed

if TYPE_CHECKING:  # pragma: no cover
    from qshell.records.results import QueryResult
    from qshell.script.commands import Command
    from qshell.script.variables import Variables


class _Host(ShellHost, Protocol):
    variables: Variables

    def print_table(self, names: list[str], rows: list[list[str]], title: str) -> None: ...
    def _args(self, cmd: Command, take: int | None = None, semicolon: bool = False) -> list[str]: ...
    def _where_notice(self, text: str) -> None: ...
    def show_notices(self, q: QueryResult) -> None: ...




class Libpq:
    """The libpq calls psql makes about its connection, on a psycopg2 connection's PGconn."""

    def __init__(self, conn) -> None:  # noqa: ANN001 - a psycopg2 connection
        from qshell.engine import libpq

        self.pq = libpq.lib()  # (every call below declared there)
        self.ptr = ctypes.c_void_p(conn.pgconn_ptr)

    def text(self, name: str, *args: bytes) -> str | None:
        raw = getattr(self.pq, name)(self.ptr, *args)
        return None if raw is None else raw.decode("utf-8", "surrogateescape")

    def number(self, name: str, *args: object) -> int:
        return int(getattr(self.pq, name)(self.ptr, *args))

    def has(self, name: str) -> bool:
        return getattr(self.pq, name, None) is not None

    def error(self) -> str:
        return (self.text("PQerrorMessage") or "").rstrip("\n")


def _is_socket(host: str | None) -> bool:
    """libpq's is_unixsock_path: an absolute path (or an abstract socket's @name)."""
    return bool(host) and (host.startswith("/") or host.startswith("@"))  # type: ignore[union-attr]


def conninfo_rows(pq: Libpq) -> list[list[str]]:
    """psql 18's \\conninfo table, row by row, from libpq as psql reads it."""
    host, hostaddr = pq.text("PQhost"), pq.text("PQhostaddr")
    if pq.has("PQfullProtocolVersion"):  # libpq 18: the minor version too
        full = int(pq.pq.PQfullProtocolVersion(pq.ptr))
        protocol = f"{full // 10000}.{full % 10000}"
    else:  # libpq 17 speaks 3.0 only
        protocol = f"{pq.number('PQprotocolVersion')}.0"
    yes = {True: "true", False: "false"}
    rows = [["Database", pq.text("PQdb") or ""], ["Client User", pq.text("PQuser") or ""]]
    if _is_socket(host):
        # a hostaddr given overrides the socket, so psql shows it instead
        rows.append(["Host Address", hostaddr] if hostaddr else ["Socket Directory", host or ""])
    else:
        rows.append(["Host", host or ""])
        if hostaddr and hostaddr != host:
            rows.append(["Host Address", hostaddr])
    rows += [["Server Port", pq.text("PQport") or ""], ["Options", pq.text("PQoptions") or ""],
             ["Protocol Version", protocol],
             ["Password Used", yes[bool(pq.number("PQconnectionUsedPassword"))]],
             ["GSSAPI Authenticated", yes[bool(pq.number("PQconnectionUsedGSSAPI"))]],
             ["Backend PID", str(pq.number("PQbackendPID"))]]
    ssl = bool(pq.number("PQsslInUse"))
    rows.append(["SSL Connection", yes[ssl]])
    if ssl:
        def attr(name: str) -> str | None:
            return pq.text("PQsslAttribute", name.encode())

        compression = attr("compression")
        alpn = attr("alpn")
        rows += [["SSL Library", attr("library") or "unknown"], ["SSL Protocol", attr("protocol") or "unknown"],
                 ["SSL Key Bits", attr("key_bits") or "unknown"], ["SSL Cipher", attr("cipher") or "unknown"],
                 ["SSL Compression", yes[compression == "on"]], ["ALPN", alpn if alpn else "none"]]
    for label, param in (("Superuser", b"is_superuser"), ("Hot Standby", b"in_hot_standby")):
        rows.append([label, pq.text("PQparameterStatus", param) or "unknown"])
    return rows


class ConnectionCommands:
    """psql's \\conninfo, \\encoding and \\password, given the shell."""

    def __init__(self, shell: _Host) -> None:
        self.shell = shell

    def _libpq(self) -> Libpq:
        user = self.shell.session.user
        if not user.alive:
            user.reset()
        return Libpq(user.conn)

    def do_conninfo(self, cmd: Command) -> None:
        """psql 18's table: every row from libpq (host or socket, port, options, protocol,
        whether a password or GSSAPI was used, the backend's pid, SSL, superuser, hot standby),
        printed with the \\pset options as psql prints it."""
        from qshell.output.json_lines import json_line
        self.shell._args(cmd, take=0)
        rows = conninfo_rows(self._libpq())
        session = self.shell.session
        if self.shell.json:
            p = session.params
            self.shell.write(json_line({"type": "conninfo", "dbname": p.get("dbname"), "user": p.get("user"),
                                        "host": p.get("host"), "port": p.get("port"),
                                        "server_version": p.get("server_version"), "sandbox": session.sandbox is not None,
                                        "parameters": dict(rows)}))  # (the table's rows, psql's names)
            return
        self.shell.print_table(["Parameter", "Value"], rows, "Connection Information")
        if session.sandbox is not None:
            self.shell.write(f"This is qshell's embedded sandbox server (data in {session.sandbox.directory}).")

    def do_encoding(self, cmd: Command) -> None:
        """psql's \\encoding: no argument, the client encoding; else libpq's
        PQsetClientEncoding (it sends ``set client_encoding to 'NAME'``), and ``:ENCODING``."""
        words = self.shell._args(cmd, take=1)
        pq = self._libpq()
        if not words:
            self.shell.write(pq.text("PQparameterStatus", b"client_encoding") or "")
            return
        if pq.number("PQsetClientEncoding", words[0].encode("utf-8", "surrogateescape")) == -1:
            raise UsageError(f"{words[0]}: invalid encoding name or conversion procedure not found")
        sync_encoding(self.shell)


    def do_password(self, cmd: Command) -> None:
        """psql's \\password [USER]: the new password asked twice on the terminal (never
        echoed, never from the script), then libpq's PQchangePassword on the session: it
        computes the SCRAM verifier on this side (``password_encryption`` asked of the
        server) and sends ``ALTER USER "name" PASSWORD 'SCRAM-SHA-256$…'`` — never the
        password itself."""
        from qshell.engine import libpq
        from qshell.records.results import QueryResult, Status

        words = self.shell._args(cmd, take=1)
        pq = self._libpq()
        if not pq.has("PQchangePassword"):
            raise UsageError("\\password: the libpq loaded has no PQchangePassword (libpq 17 or later needed)")
        user = sql_identifier(words[0]) if words else self._current_user()
        first = _prompt(f'Enter new password for user "{user}": ')
        second = _prompt("Enter it again: ")
        if first != second:
            raise UsageError("Passwords didn't match.")
        pq = self._libpq()  # (the same connection: asked again after the prompts, which may have been long)
        conn = self.shell.session.user.conn
        with libpq.notices_of(conn) as heard:  # (the server's WARNING about an MD5 password: now, as psql)
            res = pq.pq.PQchangePassword(pq.ptr, user.encode("utf-8", "surrogateescape"), first.encode("utf-8", "surrogateescape"))
        try:
            if heard:
                self.shell.show_notices(QueryResult(index=0, sql="", status=Status.OK, notices=tuple(heard)))
            if not res or pq.pq.PQresultStatus(res) != libpq.PGRES_COMMAND_OK:
                raise QshellError(pq.error())  # psql's pg_log_info of libpq's message: the server's error
        finally:
            if res:
                pq.pq.PQclear(res)

    def _current_user(self) -> str:
        """psql's ``SELECT CURRENT_USER``, run as its own catalog queries are (ECHO_HIDDEN)."""
        import psycopg2

        sql = "SELECT CURRENT_USER"
        echo_hidden(self.shell, sql)
        conn = self.shell.session.user.conn
        assert conn is not None  # _libpq() connected
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
        except psycopg2.Error as exc:
            raise QshellError((exc.pgerror or str(exc)).strip("\n").split("\n")[0]) from None
        return str(row[0]) if row else ""


def sql_identifier(word: str) -> str:
    """psql's OT_SQLID reading of an argument (as lexed, double quotes kept): unquoted
    letters folded to lower case, double-quoted parts as they are (``""`` a quote)."""
    out, inquotes, i = [], False, 0
    while i < len(word):
        ch = word[i]
        if ch == '"':
            if inquotes and word[i + 1:i + 2] == '"':
                out.append('"')
                i += 2
                continue
            inquotes = not inquotes
        else:
            out.append(ch if inquotes else ch.lower() if ch.isascii() else ch)
        i += 1
    return "".join(out)


def _prompt(text: str) -> str:
    """One answer read from the terminal, not echoed (psql's simple_prompt on /dev/tty):
    Ctrl-C ends the command without a word, as psql; no terminal: refused (psql would read
    the script's next line as the password)."""
    import getpass
    import os

    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))  # getpass falls back to stdin without it
    except OSError as exc:
        raise UsageError(f"\\password: no terminal to read the password from (/dev/tty: {exc.strerror or exc})") from None
    try:
        return getpass.getpass(text)
    except EOFError:
        _end_prompt_line()
        return ""
    except KeyboardInterrupt:
        raise _Failed() from None


def _end_prompt_line() -> None:
    """The newline getpass leaves out when the answer ended in Ctrl-D (psql's simple_prompt
    ends the prompt's line whatever ended the answer): what follows starts a line of its own."""
    try:
        with open("/dev/tty", "w") as tty:
            tty.write("\n")
    except OSError:
        pass


def ask_login_password(user: str) -> str | None:
    """psql's "Password for user NAME: " when the server asks for a password none was given
    for (at start-up, \\c): read on the terminal, not echoed. None when there is no
    terminal or no answer (Ctrl-D): the connection's own error stands, as psql -w's."""
    import getpass
    import os

    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))  # getpass falls back to stdin without it
    except OSError:
        return None
    try:
        return getpass.getpass(f"Password for user {user}: ")
    except EOFError:
        _end_prompt_line()
        return None


def sync_encoding(shell: _Host) -> None:
    """``:ENCODING`` as the server last reported the client encoding (psql updates it on
    connecting, after \\encoding and after each statement: ``SET client_encoding``)."""
    user = shell.session.user
    if not user.alive:
        return
    assert user.conn is not None  # alive
    name = user.conn.get_parameter_status("client_encoding")
    if name:
        shell.variables.set("ENCODING", name)


# -- what psql sends around a statement: AUTOCOMMIT off, ON_ERROR_ROLLBACK ----------------

SAVEPOINT = "pg_psql_temporary_savepoint"  # psql's own name for it (the server's log shows it)


def _skip_white_space(sql: str, i: int) -> int:
    """psql's skip_white_space: past whitespace, ``--`` comments and nested ``/* */`` ones."""
    n = len(sql)
    depth = 0
    while i < n:
        if depth:
            if sql.startswith("/*", i):
                depth += 1
                i += 2
            elif sql.startswith("*/", i):
                depth -= 1
                i += 2
            else:
                i += 1
        elif sql[i].isspace():
            i += 1
        elif sql.startswith("/*", i):
            depth = 1
            i += 2
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        else:
            break
    return i


def _words(sql: str, count: int) -> list[str]:
    """The first ``count`` words of ``sql`` as psql's command_no_begin reads them: runs of
    letters (lower-cased) after whitespace and comments; '' where a word is not letters."""
    words, i = [], 0
    for _ in range(count):
        i = _skip_white_space(sql, i)
        j = i
        while j < len(sql) and sql[j].isascii() and sql[j].isalpha():  # (C's isalpha on bytes)
            j += 1
        words.append(sql[i:j].lower())
        i = j
    return words


def command_no_begin(sql: str) -> bool:
    """psql's command_no_begin: with AUTOCOMMIT off, the statements psql sends no BEGIN
    before (transaction control, and those the server refuses inside a block: VACUUM,
    CLUSTER without arguments, CREATE/DROP DATABASE and TABLESPACE, CREATE INDEX
    CONCURRENTLY, ALTER SYSTEM, DROP/REINDEX … CONCURRENTLY, DISCARD ALL, PREPARE TRANSACTION)."""
    first, second, third, fourth = _words(sql, 4)
    if first in ("abort", "begin", "start", "commit", "end", "rollback"):
        return True
    if first == "prepare":
        return second == "transaction"
    if first == "vacuum":
        return True
    if first == "cluster":  # CLUSTER with any arguments is allowed in a block
        rest = sql[_skip_white_space(sql, _skip_white_space(sql, 0) + len(first)):]
        return not (rest[:1].isascii() and rest[:1].isalpha())
    if first == "create":
        if second in ("database", "tablespace"):
            return True
        if second == "unique":
            second, third = third, fourth
        return second == "index" and third == "concurrently"
    if first == "alter":
        return second == "system"
    if first in ("drop", "reindex"):
        if second in ("database", "system", "tablespace"):
            return True
        return second in ("index", "table") and third == "concurrently"
    if first == "discard":
        return second == "all"
    return False


def gives_up_savepoint(command_tag: str) -> bool:
    """psql's svpt_gone: after the user's COMMIT, SAVEPOINT, RELEASE or ROLLBACK its own
    savepoint is gone (or releasing it would release theirs): it sends no RELEASE."""
    return command_tag in ("COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def _send(conn, sql: str) -> str | None:  # noqa: ANN001 - a psycopg2 connection
    """One statement of psql's own (BEGIN, SAVEPOINT…) on the session; its error's text, or None."""
    import psycopg2

    try:
        conn.cursor().execute(sql)
    except psycopg2.Error as exc:
        return (exc.pgerror or str(exc)).rstrip("\n")
    return None


def begin_for(shell: _Host, sql: str, interactive: bool) -> tuple[bool, bool]:
    """What psql's SendQuery sends before the user's statement: BEGIN when AUTOCOMMIT is off
    and no transaction is open (unless ``command_no_begin``), then, inside a block, its
    savepoint when ON_ERROR_ROLLBACK is on (or interactive, at the prompt). Returns
    (whether to send the statement, whether the savepoint was made)."""
    from psycopg2 import extensions

    user = shell.session.user
    v = shell.variables
    autocommit_off = v.get("AUTOCOMMIT") is not None and not v.is_on("AUTOCOMMIT")
    if user.conn is None and autocommit_off:
        user.open()  # (not connected yet: the BEGIN goes first all the same)
    conn = user.conn
    if conn is None or conn.closed:
        return True, False
    status = conn.info.transaction_status
    if status == extensions.TRANSACTION_STATUS_IDLE and autocommit_off and not command_no_begin(sql):
        problem = _send(conn, "BEGIN")
        if problem:
            shell._where_notice(problem)
            return False, False
        status = conn.info.transaction_status
    rollback = enum_or_off(v.get("ON_ERROR_ROLLBACK"))
    if status == extensions.TRANSACTION_STATUS_INTRANS and (rollback == "on" or rollback == "interactive" and interactive):
        problem = _send(conn, f"SAVEPOINT {SAVEPOINT}")
        if problem:
            shell._where_notice(problem)
            return False, False
        return True, True
    return True, False


def end_savepoint(shell: _Host, command_tag: str) -> str | None:
    """After the statement, psql's end of its savepoint: ROLLBACK TO it after an error,
    RELEASE it otherwise (not after the user's own COMMIT, SAVEPOINT, RELEASE, ROLLBACK;
    nothing once no transaction is open). Returns the error's text if that failed."""
    from psycopg2 import extensions

    conn = shell.session.user.conn
    if conn is None or conn.closed:
        return None
    status = conn.info.transaction_status
    if status == extensions.TRANSACTION_STATUS_INERROR:
        return _send(conn, f"ROLLBACK TO {SAVEPOINT}")
    if status == extensions.TRANSACTION_STATUS_INTRANS and not gives_up_savepoint(command_tag):
        return _send(conn, f"RELEASE {SAVEPOINT}")
    return None


def enum_or_off(value: str | None) -> str:
    """ON_ERROR_ROLLBACK's value as psql's hook keeps it: on, off or interactive."""
    from qshell.script.variables import enum_value

    return enum_value("ON_ERROR_ROLLBACK", value or "off") or "off"


def echo_hidden(shell: ShellHost, sql: str) -> None:
    """psql's ECHO_HIDDEN (-E) for a query of its own (a catalog command's): on or noexec,
    the query in psql's frame on stdout before it runs; noexec, not run at all and the
    command fails without a word (psql's PSQLexec returns no result)."""
    variables = getattr(shell, "variables", None)
    if variables is None:
        return
    from qshell.script.variables import enum_value

    mode = enum_value("ECHO_HIDDEN", variables.get("ECHO_HIDDEN") or "off") or "off"
    if mode == "off" or shell.json:
        return
    shell.write(f"/******** QUERY *********/\n{sql}\n/************************/\n")
    if mode == "noexec":
        raise _Failed()


_VERBOSITY = {"terse": 0, "default": 1, "verbose": 2, "sqlstate": 3}  # libpq's PGVerbosity
_SHOW_CONTEXT = {"never": 0, "errors": 1, "always": 2}  # libpq's PGContextVisibility


def sync_verbosity(shell: _Host) -> None:
    """psql's VERBOSITY and SHOW_CONTEXT: set on the session's libpq connection (as psql's
    hooks call PQsetErrorVerbosity and PQsetErrorContextVisibility), so that libpq itself
    lays out the errors and notices the server sends as psql shows them."""
    from qshell.script.variables import enum_value

    conn = shell.session.user.conn
    if conn is None or conn.closed:
        return
    v = shell.variables
    verbosity = _VERBOSITY[enum_value("VERBOSITY", v.get("VERBOSITY") or "default") or "default"]
    context = _SHOW_CONTEXT[enum_value("SHOW_CONTEXT", v.get("SHOW_CONTEXT") or "errors") or "errors"]
    key = (conn.pgconn_ptr, verbosity, context)
    if getattr(shell, "_verbosity_set", None) == key:
        return
    pq = Libpq(conn)
    pq.number("PQsetErrorVerbosity", verbosity)
    pq.number("PQsetErrorContextVisibility", context)
    shell._verbosity_set = key  # type: ignore[attr-defined]  # (asked once per connection and value)


def remember_error(shell: ShellHost, exc: BaseException) -> None:
    """A failed query of psql's own (a catalog command's) is \\errverbose's last error too
    (psql's ClearOrSaveResult keeps it); the result variables stay as they were."""
    from qshell.engine.execute import server_message

    found = server_message(exc)
    if found is not None:
        shell.last_error = found
