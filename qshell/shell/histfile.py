"""The prompt's history files (prompt_toolkit Histories): qshell's own, or psql's
HISTFILE; HISTCONTROL, HISTSIZE and the password filter over both (see cmdhistory).
Imported by the terminal only (prompt_toolkit is not loaded for scripts)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from prompt_toolkit.history import FileHistory, History

from qshell.session.connect import redact
from qshell.shell.cmdhistory import DEFAULT_SIZE, NL_IN_HISTORY, histsize, keeps

if TYPE_CHECKING:
    from qshell.shell.loop import Shell


def _regular(path: Path) -> bool:
    """Only a regular file is ever rewritten (trimmed to HISTSIZE): never /dev/null."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _private(path: Path) -> Path:
    """``path`` created mode 0600 if missing, a regular file tightened to 0600; anything else
    (``HISTFILE=/dev/null``, as psql users turn history off) left exactly as it is."""
    import stat

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


class _Kept:
    """HISTCONTROL, HISTSIZE and the password filter over a prompt_toolkit History: a line
    not to keep is neither in memory nor in the file. ``settings()`` gives (HISTCONTROL,
    HISTSIZE) as they are now; ``failed`` the first write that failed (told once)."""

    settings: Callable[[], tuple[str | None, int]] = staticmethod(lambda: (None, DEFAULT_SIZE))
    failed: OSError | None = None
    told = False

    def append_string(self, string: str) -> None:
        control, _ = self.settings()
        strings = self.get_strings()  # type: ignore[attr-defined]  # (History's)
        if keeps(string, strings[-1] if strings else None, control):
            super().append_string(string)  # type: ignore[misc]  # (in memory as typed; the file's masked)

    def _over(self, count: int) -> bool:
        _, size = self.settings()
        return 0 <= size < count


class OwnHistory(_Kept, FileHistory):
    """qshell's own file (prompt_toolkit's format)."""

    def store_string(self, string: str) -> None:
        try:
            super().store_string(redact(string))
            strings = [redact(s) for s in self.get_strings()]
            if self._over(len(strings)) and _regular(Path(str(self.filename))):
                _, size = self.settings()
                self._rewrite(strings[-size:] if size else [])
        except OSError as exc:
            if self.failed is None:
                self.failed = exc

    def _rewrite(self, strings: list[str]) -> None:
        path = Path(str(self.filename))
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for s in strings:
                f.write("\n" + "".join(f"+{line}\n" for line in s.split("\n")))
        os.replace(tmp, path)


class PsqlHistory(_Kept, History):
    """A psql history file (HISTFILE): one entry a line, newlines as 0x01."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def load_history_strings(self) -> Iterable[str]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        lines = [line.replace(NL_IN_HISTORY, "\n") for line in text.split("\n") if line]
        if lines and lines[0] == "_HiStOrY_V2_":  # libedit's header (its psql's files)
            lines = lines[1:]
        return list(reversed(lines))

    def store_string(self, string: str) -> None:
        try:
            strings = [redact(s) for s in self.get_strings()]
            if self._over(len(strings)) and _regular(self.path):
                _, size = self.settings()
                kept = strings[-size:] if size else []
                tmp = self.path.with_name(self.path.name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write("".join(s.replace("\n", NL_IN_HISTORY) + "\n" for s in kept))
                os.replace(tmp, self.path)
            else:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(redact(string).replace("\n", NL_IN_HISTORY) + "\n")
        except OSError as exc:
            if self.failed is None:
                self.failed = exc


def open_history(shell: "Shell", own_file: Path | None) -> History:
    """The prompt's history: HISTFILE's (psql's format) when set, else qshell's own file,
    else (no file) memory only. HISTCONTROL and HISTSIZE are read as they are at each line."""
    from prompt_toolkit.history import InMemoryHistory

    v = shell.variables
    named = v.get("HISTFILE")
    history: History
    try:
        if named:
            history = PsqlHistory(_private(Path(os.path.expanduser(named))))
        elif own_file is not None:
            history = OwnHistory(str(_private(own_file)))
        else:
            history = InMemoryHistory()
    except OSError:
        history = InMemoryHistory()
    if isinstance(history, _Kept):
        history.settings = lambda: (v.get("HISTCONTROL"), histsize(v.get("HISTSIZE")))
    shell.history_file = Path(os.path.expanduser(named)) if named else own_file
    shell.command_history = history
    return history
