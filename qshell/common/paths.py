"""Where qshell keeps its files (XDG through platformdirs), and safe appends to them."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

APP = "qshell"


def _platformdirs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import platformdirs
    return platformdirs


def history_dir(option: str | None = None) -> Path:
    """``--history-dir``, else ``$QSHELL_HISTORY_DIR``, else the XDG state dir (~/.local/state/qshell)."""
    chosen = option or os.environ.get("QSHELL_HISTORY_DIR")
    if chosen:
        return Path(chosen).expanduser()
    return Path(_platformdirs().user_state_dir(APP))


def data_dir() -> Path:
    """The XDG data dir (~/.local/share/qshell): the sandbox lives here."""
    return Path(_platformdirs().user_data_dir(APP))


def private_file(path: Path) -> Path:
    """Create ``path`` (and its directory) if missing, mode 0600; tighten it if looser."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write(2) on an O_APPEND fd, mode 0600.

    One write keeps concurrent shells from interleaving and a crash from leaving
    half a line mid-file.
    """
    private_file(path)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
