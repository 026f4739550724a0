"""Edit text in the user's editor ($VISUAL, $EDITOR, else vi), as psql's \\e does."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from .errors import UsageError


def editor_command() -> list[str]:
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def edit(text: str) -> str:
    """Open ``text`` in the editor; block until it exits; return the file's new content.

    Raises UsageError when the editor cannot be started or exits with an error.
    """
    fd, path = tempfile.mkstemp(prefix="qshell-", suffix=".sql")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") or not text else text + "\n")
        cmd = editor_command()
        try:
            code = subprocess.call([*cmd, path])
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
