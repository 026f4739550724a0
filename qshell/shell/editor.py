"""The programs qshell hands the terminal to: the editor ($VISUAL, $EDITOR, else vi)
for \\e, and the pager."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from qshell.common.errors import UsageError


def run_foreground(argv: list[str], data: bytes | None = None) -> int:
    """Run a program that owns the terminal until it exits; return its status.

    Ctrl-C belongs to it (less and vi handle it themselves): qshell keeps waiting instead
    of killing it. ``data`` goes to its stdin (a pager's input); a program that quits
    before reading everything is fine. Raises OSError when it cannot be started.
    """
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if data is not None else None)
    if data is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
        except (BrokenPipeError, KeyboardInterrupt):
            pass
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def editor_command() -> list[str]:
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def edit(text: str, line: int | None = None) -> str:
    """Open ``text`` in the editor (at ``line``: ``+LINE`` before the file, as psql's
    default PSQL_EDITOR_LINENUMBER_ARG); block until it exits; return the file's new content.

    Raises UsageError when the editor cannot be started or exits with an error.
    """
    fd, path = tempfile.mkstemp(prefix="qshell-", suffix=".sql")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") or not text else text + "\n")
        cmd = editor_command()
        try:
            code = run_foreground([*cmd, *([f"+{line}"] if line is not None else []), path])
        except OSError as exc:
            raise UsageError(f"\\e: cannot start editor {cmd[0]!r}: {exc.strerror or exc}") from None
        if code != 0:
            raise UsageError(f"\\e: editor {cmd[0]!r} exited with status {code}; nothing changed")
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
