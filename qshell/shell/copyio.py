"""COPY as psql runs it, on the user's own session: ``COPY … FROM STDIN`` / ``TO STDOUT``
typed as SQL, and ``\\copy``, which psql turns into one of those and feeds or drains itself.

The statement is sent once, as typed (``\\copy``: the text psql builds from its
arguments, checked against the server log in tests); the data moves through libpq's copy
protocol on the session's connection (``qshell.session.copyproto``). Where the data comes
from and goes to is psql's: ``FROM STDIN`` reads the lines after the statement in the
script being read (through ``\\.``), or at the prompt asks for them with ``>>``; ``TO
STDOUT`` writes to the query output (``\\o``'s file, ``\\g``'s file or pipe); ``\\copy``
reads or writes a file, a program, or psql's own stdin / stdout (``pstdin``/``pstdout``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator

from qshell.common.errors import UsageError
from qshell.common.visible import visible
from qshell.records.results import QueryResult, Status
from qshell.script.reader import TERMINAL
from qshell.shell.streams import isatty

if TYPE_CHECKING:  # pragma: no cover
    from qshell.session import copyproto
    from qshell.shell.host import CommandHost

ENTER_DATA = ("Enter data to be copied followed by a newline.\n"
              "End with a backslash and a period on a line by itself, or an EOF signal.")
_CHUNK = 64 * 1024


def _lines(stream: BinaryIO, stop_at_marker: bool) -> Iterator[bytes]:
    """A text-format COPY's data from ``stream``, line by line as psql reads it; with
    ``stop_at_marker``, a line ``\\.`` ends it (not sent)."""
    for line in stream:
        if stop_at_marker and line in (b"\\.\n", b"\\.\r\n", b"\\."):
            return
        yield line


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        data = stream.read(_CHUNK)
        if not data:
            return
        yield data


class CopyCommands:
    """``\\copy`` and the COPY statements of the user's session (``run``)."""

    def __init__(self, host: "CommandHost") -> None:
        self.host = host
        # \\copy's stream while it runs: the data of COPY FROM STDIN, where COPY TO STDOUT writes
        self._feed: Callable[[bool], Iterable[bytes]] | None = None
        self._sink: Callable[[bytes], None] | None = None
        self._sink_is_stdout = False  # \\copy … TO PSTDOUT
        self._fed = False  # the COPY asked for the script's data (it reached COPY FROM STDIN)
        self._write_error: OSError | None = None  # \\copy's file or program could not take the rows
        self.tag_hidden = False  # the last COPY's rows went to the query output: psql prints no tag

    # -- a COPY statement on the user's session ------------------------------------------
    def run(self, sql: str) -> QueryResult:
        """Send ``sql`` (holding a COPY, or a ``\\;`` group of several statements) as typed
        and move its data; print every result but the last (psql prints each result of a
        group), return the last."""
        from qshell.session import copyproto  # (ctypes and libpq: only when a COPY runs)

        host = self.host
        user = host.session.user
        if not user.alive:
            user.open()
        out = host.out
        if host._page:
            host._flush_page()
        raw = getattr(out, "buffer", None)
        escape = isatty(out)  # data never controls the terminal: its control characters shown escaped
        try:
            out.flush()
        except (OSError, ValueError):
            pass

        def write(data: bytes) -> None:
            if self._write_error is not None:
                return
            try:
                if escape or raw is None:
                    text = data.decode("utf-8", "replace")
                    out.write(visible(text) if escape else text)
                else:
                    raw.write(data)
            except BrokenPipeError as exc:
                if out is host.stdout and host._outer_out is None:
                    raise  # (qshell's own stdout closed: it ends, as for any output)
                self._write_error = exc  # \\o's or \\g's pipe closed: psql's error, the script goes on
            except OSError as exc:
                self._write_error = exc

        # psql prints no COPY tag after rows it wrote to the query output itself
        same_output = self._sink is None or self._sink_is_stdout and host.out is host.stdout

        def show(r: "copyproto.Outcome") -> None:  # a result before the last, as it comes
            q = self._result(sql, r)
            host.show_notices(q)
            if host.json:  # (JSON lines: one record per result, as for the last)
                from qshell.output import json_lines

                host.write(json_lines.json_line(json_lines.query_record(q, None)))
            elif r.columns and r.ok:  # rows: printed as a single statement's are
                host._show_rows(q)
            elif r.columns or not (host.variables.is_on("QUIET") or r.copied_out and same_output):
                host.write(host_statement(q, host))
            if host._page:  # (at the prompt: before the rows a COPY after it writes directly)
                host._flush_page()
            elif raw is not None:
                out.flush()

        start = time.perf_counter()
        try:
            results = copyproto.exchange(user.conn, sql, self._feed or self._script_data, self._sink or write, show)
        finally:
            try:
                (raw or out).flush()
            except (OSError, ValueError):
                pass
        if user.conn is not None and copyproto.lost(user.conn):
            user.conn.close()  # (psycopg2 cannot know: the session is then lost, as psql finds it)
        last = results[-1] if results else copyproto.Outcome(0)
        self.tag_hidden = last.copied_out and same_output or self._write_error is not None
        if self._write_error is not None and self._sink is None:  # (\\copy says it itself, after its file)
            problem, self._write_error = self._write_error, None
            host.variables.set("ERROR", "true")
            host.variables.set("ROW_COUNT", "0")
            raise UsageError(f"could not write COPY data: {problem.strerror or problem}")
        return replace(self._result(sql, last), exec_s=time.perf_counter() - start)

    @staticmethod
    def _result(sql: str, r: "copyproto.Outcome") -> QueryResult:
        return QueryResult(index=0, sql=sql, status=Status.OK if r.ok else Status.ERROR, columns=r.columns,
                           rows=tuple(r.rows), rowcount=len(r.rows) if r.columns else 0, command=r.command,
                           notices=tuple(r.notices), diag=r.diag, sqlstate=r.diag.sqlstate if r.diag else None,
                           error=r.diag.text if r.diag else None)

    def _script_data(self, binary: bool) -> Iterator[bytes]:
        self._fed = True
        yield from self._input_data(binary)

    def _input_data(self, binary: bool) -> Iterator[bytes]:
        """COPY FROM STDIN's data from where the statement was read (psql's cur_cmd_source):
        the lines after it, through ``\\.``; at the prompt, asked for with psql's message
        and its ``>>`` prompt. No reader (a ``-c`` string): psql's stdin."""
        host = self.host
        readers = host.context.readers
        if not readers:
            yield from _lines(sys.stdin.buffer, True)
            return
        reader = readers[-1]
        if reader.source == "-c":  # psql -c: the data comes from its stdin
            yield from _lines(sys.stdin.buffer, True)
            return
        if host.interactive and reader.source == TERMINAL and not host.variables.is_on("QUIET"):
            host.say(ENTER_DATA)
        yield from reader.copy_data()
        host._where = (reader.source, reader.lineno)  # psql names the line it read last

    # -- \\copy ------------------------------------------------------------------------------
    def do_copy(self, cmd) -> None:  # noqa: ANN001 - commands.Command
        """psql's \\copy: ``COPY <what> FROM STDIN|TO STDOUT <options>`` sent as psql
        builds it; the data read from or written to the file, the program, or stdin/stdout.
        Its result is said once the file is closed and the program has ended (a program
        that failed makes the \\copy fail: its tag is not printed, as psql)."""
        host = self.host
        args = cmd.arg
        if not args.strip():
            raise UsageError("\\copy: arguments required")
        spec = parse_copy(args, host.context.std_strings)
        sql = f"COPY {spec.before} {'FROM STDIN' if spec.from_ else 'TO STDOUT'} {spec.after}"
        stream: BinaryIO | None = None
        proc: subprocess.Popen | None = None
        path = spec.file
        if spec.program:
            try:
                proc = subprocess.Popen(["sh", "-c", spec.file or ""], executable="/bin/sh", stdin=None if spec.from_ else subprocess.PIPE,
                                        stdout=subprocess.PIPE if spec.from_ else None)
            except OSError as exc:
                raise UsageError(f"could not execute command \"{spec.file}\": {exc.strerror or exc}") from None
            stream = proc.stdout if spec.from_ else proc.stdin  # type: ignore[assignment]  # (binary pipes)
        elif path is not None:
            if Path(path).is_dir():
                raise UsageError(f"{path}: cannot copy from/to a directory")
            try:
                stream = open(path, "rb" if spec.from_ else "wb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise UsageError(f"{path}: {exc.strerror or exc}") from None
        problems: list[str] = []
        q: QueryResult | None = None
        try:
            q = self._run_slash(sql, spec, stream)
        finally:
            if self._write_error is not None:  # (psql: the COPY failed, no tag)
                problems.append(f"could not write COPY data: {self._write_error.strerror or self._write_error}")
                self._write_error = None
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
                except OSError as exc:
                    problems.append(f"{path}: {exc.strerror or exc}")
            if proc is not None:
                code = proc.wait()
                host.variables.set("SHELL_ERROR", "true" if code else "false")
                host.variables.set("SHELL_EXIT_CODE", str(code if code >= 0 else 128 - code))
                if code:
                    problems.append(f"{spec.file}: " + (f"child process exited with exit code {code}" if code > 0 else
                                                        f"child process was terminated by signal {-code}: {signal.strsignal(-code)}"))
        failed = q is None or q.status is not Status.OK
        if failed and spec.from_ and path is None and not spec.psql_inout and not self._fed:
            self._skip_data()  # psql 18: the data after a \\copy … FROM STDIN that failed is skipped too
        for text in problems:
            host.fail(text)

    def _skip_data(self) -> None:
        """The lines after the command through ``\\.`` (or the end of the input), unread."""
        readers = self.host.context.readers
        if readers and not (self.host.interactive and readers[-1].source == TERMINAL):
            for _ in readers[-1].copy_data():
                pass

    def _run_slash(self, sql: str, spec: "CopySpec", stream: BinaryIO | None) -> QueryResult | None:
        host = self.host
        self._fed = False
        if spec.from_:
            if stream is not None:
                self._feed = lambda binary: _chunks(stream)  # (psql sends a file's bytes as they are, \\. included)
            elif spec.psql_inout and not (host.interactive and isatty(sys.stdin)):  # (at the prompt: >>)
                self._feed = lambda binary: _chunks(sys.stdin.buffer) if binary else _lines(sys.stdin.buffer, True)
        else:
            if stream is not None:
                def to_stream(data: bytes) -> None:
                    if self._write_error is None:
                        try:
                            stream.write(data)
                        except OSError as exc:  # the program went away (psql: "could not write COPY data")
                            self._write_error = exc
                self._sink = to_stream
            elif spec.psql_inout:
                real = host.stdout

                def to_stdout(data: bytes) -> None:
                    raw = getattr(real, "buffer", None)
                    if raw is None or isatty(real):
                        text = data.decode("utf-8", "replace")
                        real.write(visible(text) if isatty(real) else text)
                    else:
                        real.flush()
                        raw.write(data)
                        raw.flush()
                self._sink, self._sink_is_stdout = to_stdout, True
        try:  # as psql's SendQuery: echoed with -e, timed, its variables set; not \\g's previous query
            return host._run_sql(sql, remember=False)
        finally:
            self._feed = self._sink = None
            self._sink_is_stdout = False


def host_statement(q: QueryResult, host: "CommandHost") -> str:
    from qshell.output import result_tables

    return result_tables.statement(q, host.style())


class CopySpec:
    """What psql reads from ``\\copy``'s arguments (its parse_slash_copy)."""

    def __init__(self) -> None:
        self.before = ""  # the table and column list, or the (query), as psql joins its words
        self.from_ = True
        self.file: str | None = None  # a file name, or the program's command (None: stdin/stdout)
        self.program = False
        self.psql_inout = False  # pstdin / pstdout
        self.after = ""  # the rest of the line, as typed: COPY's options


class _Tokens:
    """psql's strtokx over one string: words split at ``whitespace``, each character of
    ``delims`` a word of its own, a quote (one of ``quotes``) running to its closing
    quote (doubled inside: a quote itself; ``escape`` before a character: that character)."""

    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def next(self, whitespace: str = " \t\n\r", delims: str = "", quotes: str = "", escape: str = "",
             e_strings: bool = False) -> str | None:
        s, n = self.s, len(self.s)
        i = self.i
        while i < n and s[i] in whitespace:
            i += 1
        if i >= n:
            self.i = n
            return None
        if s[i] in delims:
            self.i = i + 1
            return s[i]
        e_string = e_strings and s[i] in "Ee" and s[i + 1:i + 2] == "'"  # E'…': a backslash escapes in it
        if s[i] in quotes or e_string:
            q, j = s[i + e_string], i + 1 + e_string
            escape = "\\" if e_string else escape
            while j < n:
                if escape and s[j] == escape and j + 1 < n:
                    j += 2
                    continue
                if s[j] == q:
                    if j + 1 < n and s[j + 1] == q:
                        j += 2
                        continue
                    break
                j += 1
            j = min(j + 1, n)
            self.i = j + 1 if j < n and s[j] in whitespace else j  # (the character after it ends it)
            return s[i:j]
        j = i
        while j < n and s[j] not in whitespace and s[j] not in delims and s[j] not in quotes:
            j += 1
        self.i = j + 1 if j < n and s[j] in whitespace else j
        return s[i:j]

    def rest(self) -> str:
        out, self.i = self.s[self.i:], len(self.s)
        return out


def _unquote(token: str, quote: str = "'") -> str:
    if len(token) >= 2 and token[0] == quote and token[-1] == quote:
        return token[1:-1].replace(quote * 2, quote)
    return token


def parse_copy(args: str, std_strings: bool = True) -> CopySpec:
    """psql's parse_slash_copy: what lies before FROM/TO is kept as its words joined by
    spaces (so the server sees psql's text, ``COPY  t ( a,b ) FROM STDIN ``), the file or
    program or stdin/stdout after it, and the rest of the line as typed. A word psql
    would stop at is its error: ``\\copy: parse error at "x"``."""
    spec = CopySpec()
    t = _Tokens(args)
    escape = "" if std_strings else "\\"
    token: str | None = None

    def fail() -> UsageError:
        return UsageError(f'\\copy: parse error at "{token}"' if token else "\\copy: parse error at end of line")

    token = t.next(delims=".,()", quotes='"')
    if token is None:
        raise fail()
    before = ""
    if token.lower() == "binary":
        before = token
        token = t.next(delims=".,()", quotes='"')
        if token is None:
            raise fail()
    if token == "(":  # a query: through the matching parenthesis
        depth = 1
        while depth > 0:
            before += " " + token
            token = t.next(delims="()", quotes="\"'", escape=escape, e_strings=True)
            if token is None:
                raise fail()
            depth += {"(": 1, ")": -1}.get(token, 0)
    before += " " + token
    token = t.next(delims=".,()", quotes='"')
    if token is None:
        raise fail()
    if token == ".":  # schema . table
        before += token
        token = t.next(delims=".,()", quotes='"')
        if token is None:
            raise fail()
        before += token
        token = t.next(delims=".,()", quotes='"')
        if token is None:
            raise fail()
    if token == "(":  # a column list
        while True:
            before += " " + token
            token = t.next(delims="()", quotes='"')
            if token is None:
                raise fail()
            if token == ")":
                break
        before += " " + token
        token = t.next(delims=".,()", quotes='"')
        if token is None:
            raise fail()
    if token.lower() == "from":
        spec.from_ = True
    elif token.lower() == "to":
        spec.from_ = False
    else:
        raise fail()
    token = t.next(delims=";", quotes="'")
    if token is None:
        raise fail()
    if token.lower() == "program":
        token = t.next(delims=";", quotes="'")
        if token is None or len(token) < 2 or token[0] != "'" or token[-1] != "'":
            raise fail()
        spec.program, spec.file = True, _unquote(token)
    elif token.lower() in ("stdin", "stdout"):
        spec.file = None
    elif token.lower() in ("pstdin", "pstdout"):
        spec.psql_inout = True
    else:
        spec.file = os.path.expanduser(_unquote(token))
    spec.before, spec.after = before, t.rest()
    return spec
