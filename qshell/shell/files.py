"""psql's commands for files, the shell and the environment: ``\\o`` (the query output to
a file or a pipe), ``\\w`` (the query buffer to one), ``\\cd``, ``\\!``, ``\\setenv``,
``\\getenv``, ``\\prompt``.

As psql: the query output (results, ``\\qecho``, COPY TO STDOUT's rows) goes where ``\\o``
says, ``\\echo`` and psql's own messages stay on stdout; a command run by ``\\!``, ``\\o
|cmd`` or ``\\w |cmd`` sets ``SHELL_ERROR`` and ``SHELL_EXIT_CODE`` when it ends.
"""
from __future__ import annotations

import os
import pwd
import subprocess
import sys
from typing import TYPE_CHECKING, BinaryIO, TextIO

from qshell.common.errors import UsageError
from qshell.common.visible import visible
from qshell.script.variables import interpolate, valid_name

if TYPE_CHECKING:  # pragma: no cover
    from qshell.script.commands import Command
    from qshell.shell.host import CommandHost


def shell_result(variables, code: int) -> None:  # noqa: ANN001 - script.variables.Variables
    """psql's SHELL_ERROR and SHELL_EXIT_CODE from a command's wait status (a signal:
    128 + its number, as a shell says it)."""
    variables.set("SHELL_ERROR", "true" if code else "false")
    variables.set("SHELL_EXIT_CODE", str(code if code >= 0 else 128 - code))


def open_target(target: str) -> tuple[TextIO, subprocess.Popen | None]:
    """A file (``~`` expanded) or ``|command``'s stdin, for writing; UsageError as psql says it."""
    if target.startswith("|"):
        try:
            proc = subprocess.Popen(["sh", "-c", target[1:]], executable="/bin/sh", stdin=subprocess.PIPE, encoding="utf-8",
                                    errors="surrogateescape")
        except OSError as exc:
            raise UsageError(f"{target[1:]}: {exc.strerror or exc}") from None
        assert proc.stdin is not None
        return proc.stdin, proc  # type: ignore[return-value]  # (a text pipe)
    try:
        return open(os.path.expanduser(target), "w", encoding="utf-8", errors="surrogateescape"), None  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"{target}: {exc.strerror or exc}") from None


class FileCommands:
    """``\\o``, ``\\w``, ``\\cd``, ``\\!``, ``\\setenv``, ``\\getenv``, ``\\prompt``."""

    def __init__(self, host: "CommandHost") -> None:
        self.host = host
        self._proc: subprocess.Popen | None = None  # \\o |cmd's command

    def _target(self, cmd: "Command") -> str:
        """psql's file-or-pipe argument: ``|`` and the rest of the line (variables
        replaced), else the first word as psql reads it (further ones: warnings)."""
        arg = cmd.arg.strip()
        if arg.startswith("|"):
            return "|" + interpolate(arg[1:], self.host.variables)
        words = self.host._args(cmd, take=1)
        return words[0] if words else ""

    # -- \\o ---------------------------------------------------------------------------------
    def do_o(self, cmd: "Command") -> None:
        """psql's \\o [FILE|'|'COMMAND]: the query output from now on; no argument: stdout.
        The new one is opened first (a failure keeps the old one), then the old one closed."""
        host = self.host
        target = self._target(cmd)
        if host._page:
            host._flush_page()
        stream, proc = (host.stdout, None) if not target else open_target(target)
        self.close_output()
        host.out, self._proc = stream, proc
        if stream is not host.stdout:
            host._page = None  # (nothing is paged into a file)
        elif host.interactive:
            host._page = []

    def use_output(self, stream: TextIO, proc: subprocess.Popen | None) -> None:
        """psql's ``-o FILE``: the query output from the start, opened (``open_target``)
        before the connection is made, as psql opens it while reading its options."""
        host = self.host
        self.close_output()
        host.out, self._proc = stream, proc
        host._page = None  # (nothing is paged into a file)

    def close_output(self) -> None:
        """Back to stdout: \\o's file closed, its command waited for (SHELL_ERROR…)."""
        host = self.host
        out, proc = host.out, self._proc
        if out is host.stdout:
            return
        host.out, self._proc = host.stdout, None
        if host.interactive:
            host._page = []
        try:
            out.close()
        except OSError:
            pass
        if proc is not None:
            shell_result(host.variables, proc.wait())

    # -- \\w ---------------------------------------------------------------------------------
    def do_w(self, cmd: "Command") -> None:
        """psql's \\w FILE|'|'COMMAND: the statement being typed (else the last one sent),
        and a newline."""
        host = self.host
        target = self._target(cmd)
        if not target:
            raise UsageError("\\w: missing required argument")
        pending = host.entry.pending if host.entry is not None else ""
        text = pending if pending else host.last_query
        stream, proc = open_target(target)
        try:
            if text:
                stream.write(text + "\n")
        finally:
            try:
                stream.close()
            except OSError:
                pass
            if proc is not None:
                shell_result(host.variables, proc.wait())

    # -- \\cd, \\!, \\setenv, \\getenv ----------------------------------------------------------------
    def do_cd(self, cmd: "Command") -> None:
        """psql's \\cd [DIR]: no DIR: the home directory."""
        words = self.host._args(cmd, take=1)
        if words:
            where = words[0]
        else:
            where = os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
        try:
            os.chdir(os.path.expanduser(where))
        except OSError as exc:
            raise UsageError(f'\\cd: could not change directory to "{where}": {exc.strerror or exc}') from None

    def run_shell(self, cmd: "Command") -> None:
        """psql's \\! [COMMAND]: the rest of the line run by the shell (no COMMAND: $SHELL
        itself), on the terminal and stdout qshell has; SHELL_ERROR and SHELL_EXIT_CODE."""
        host = self.host
        command = cmd.arg.strip()
        if host._page:
            host._flush_page()
        for stream in (host.stdout, host.out, sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        try:  # as psql: system("COMMAND") (sh -c), or $SHELL itself
            if command:
                code = subprocess.call(["sh", "-c", command], executable="/bin/sh")
            else:
                code = subprocess.call([os.environ.get("SHELL") or "/bin/sh"])
        except OSError as exc:
            raise UsageError(f"\\!: {exc.strerror or exc}") from None
        shell_result(host.variables, code)

    def do_setenv(self, cmd: "Command") -> None:
        """psql's \\setenv NAME [VALUE]: set it for the commands qshell runs; no VALUE: unset."""
        words = self.host._args(cmd, take=2)
        if not words:
            raise UsageError("\\setenv: missing required argument")
        name = words[0]
        if "=" in name:
            raise UsageError('\\setenv: environment variable name must not contain "="')
        if len(words) == 1:
            os.environ.pop(name, None)
        else:
            os.environ[name] = words[1]

    def do_getenv(self, cmd: "Command") -> None:
        """psql's \\getenv PSQLVAR ENVVAR: the variable takes the environment's value; an
        environment variable that is not set changes nothing."""
        host = self.host
        words = host._args(cmd, take=2)
        if len(words) < 2:
            raise UsageError("\\getenv: missing required argument")
        value = os.environ.get(words[1])
        if value is not None:
            if not valid_name(words[0]):
                raise UsageError(f'invalid variable name: "{words[0]}"')
            host.variables.set(words[0], value)

    # -- \\prompt ------------------------------------------------------------------------------
    def do_prompt(self, cmd: "Command") -> None:
        """psql's \\prompt [TEXT] NAME: a line read into NAME. Reading a script file (-f,
        -f -, \\i): TEXT on stdout, the line from stdin; else (the prompt, a piped stdin, -c)
        from the terminal (/dev/tty), TEXT shown there, or from stdin when there is none."""
        host = self.host
        words = host._args(cmd, take=2)
        if not words:
            raise UsageError("\\prompt: missing required argument")
        text, name = (words[0], words[1]) if len(words) == 2 else ("", words[0])
        readers = host.context.readers
        line: str | None
        if readers and readers[-1].script_file:
            if text:
                host.to_stdout(visible(text))
            line = _read_line()
        else:
            line = _from_tty(host, visible(text))
        if line is None:
            raise UsageError(f"\\{cmd.name}: could not read value for variable")
        if not valid_name(name):
            raise UsageError(f'invalid variable name: "{name}"')
        host.variables.set(name, line)


def _read_line(stream: BinaryIO | None = None) -> str | None:
    """One line of ``stream`` (stdin's bytes by default: read as bytes, never through a
    text wrapper, which would read ahead the script that stdin may also be)."""
    try:
        line = (stream or sys.stdin.buffer).readline()
    except (OSError, ValueError, AttributeError):
        return None
    if not line:
        return None
    return (line[:-1] if line.endswith(b"\n") else line).decode("utf-8", "surrogateescape")


def _from_tty(host: "CommandHost", text: str) -> str | None:
    """psql's simple_prompt: /dev/tty for both the text and the answer, else stderr and stdin."""
    try:
        tty = open("/dev/tty", "r+b", buffering=0)  # noqa: SIM115 - closed below
    except OSError:
        if text:
            host.err.write(text)
            host.err.flush()
        return _read_line()
    with tty:
        if text:
            tty.write(text.encode("utf-8", "surrogateescape"))
        return _read_line(tty)



setattr(FileCommands, "do_!", FileCommands.run_shell)  # (\\!: a name no method can have)
