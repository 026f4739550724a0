"""Input -> complete entries: a meta-command line, or SQL through its ';'.

One ``EntryBuilder`` decides what is complete for every source, so a script, ``-c``,
``\\i`` and the terminal parse alike. Knows nothing of the database.
"""
from __future__ import annotations

import errno
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from . import commands
from .sqlsplit import split, strip_comments_head


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    source: str  # "<stdin>", a file name, "-c", "<terminal>"
    line: int  # line where the entry starts (1-based)
    pending: str = ""  # for a meta-command typed mid-statement: the unfinished statement


@dataclass(frozen=True, slots=True)
class InputError:
    """Input that cannot become an entry (bad encoding, unterminated at the end)."""

    message: str
    source: str
    line: int


def _blank(text: str) -> bool:
    return not strip_comments_head(text)


class EntryBuilder:
    """Accumulates lines; hands out entries as soon as they are complete."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._buf = ""
        self._prefix = ""  # "\\add " while collecting an \add statement
        self._start = 0
        self._lineno = 0

    @property
    def pending(self) -> bool:
        """True while an unfinished statement (or a bare \\add) waits for more lines."""
        return bool(self._prefix) or not _blank(self._buf)

    def feed(self, line: str) -> list[Entry]:
        """Take one line (without its newline); return the entries it completed."""
        self._lineno += 1
        if self.pending and line.lstrip().startswith("\\") and split(self._buf).open_construct is None:
            # as in psql, a meta-command line is obeyed while a statement is being typed;
            # the unfinished statement stays in the buffer
            return [Entry(line.strip(), self.source, self._lineno, pending=self._prefix + self._buf)]
        if not self.pending:
            self._buf = ""
            name = commands.meta_name(line)
            if line.lstrip().startswith("\\"):
                self._start = self._lineno
                if name in commands.SQL_TAKING:
                    self._prefix = line.lstrip()[: 1 + len(name)] + " "
                    rest = line.lstrip()[1 + len(name):]
                    return self._take(rest, first=True)
                return [Entry(line.strip(), self.source, self._lineno)]
            self._start = self._lineno
        return self._take(line, first=False)

    def _take(self, text: str, first: bool) -> list[Entry]:
        self._buf = text if first or not self._buf else self._buf + "\n" + text
        if not self._prefix and _blank(self._buf) and not self._buf.strip():
            self._buf = ""
            return []
        parts = split(self._buf, keep_empty=True)
        out: list[Entry] = []
        for stmt in parts.statements:
            if not stmt and not self._prefix:
                continue  # a lone ';' (a bare \add followed by ';' is reported by the parser)
            out.append(Entry(self._prefix + stmt + ";", self.source, self._start))
            self._prefix = ""
            self._start = self._lineno
        if parts.statements:
            self._buf = parts.rest if not _blank(parts.rest) or parts.open_construct else ""
        return out

    def reset(self) -> None:
        """Forget the unfinished statement (after \\e took it to the editor)."""
        self._buf, self._prefix = "", ""

    def finish(self, terminate: bool = False) -> tuple[list[Entry], InputError | None]:
        """End of input. With ``terminate`` (as for ``-c``) a last statement without
        ``;`` is complete; otherwise unfinished input is an error, never run."""
        if not self.pending:
            return [], None
        parts = split(self._buf)
        what = parts.open_construct
        if terminate and what is None and not _blank(self._buf):
            entries = [Entry(self._prefix + self._buf.strip() + ";", self.source, self._start)]
            self._buf, self._prefix = "", ""
            return entries, None
        if what is not None:
            msg = f"unterminated {what} at end of input"
        elif self._prefix and _blank(self._buf):
            msg = f"{self._prefix.strip()} without a statement at end of input"
        else:
            msg = "statement not terminated by ';' at end of input (not run)"
        self._buf, self._prefix = "", ""
        return [], InputError(msg, self.source, self._start)


def read_text(text: str, source: str, terminate: bool = False) -> Iterator[Entry | InputError]:
    """Entries of a whole text (a ``-c`` argument, a file already read)."""
    builder = EntryBuilder(source)
    for line in text.split("\n"):
        yield from builder.feed(line.rstrip("\r"))
    entries, error = builder.finish(terminate)
    yield from entries
    if error:
        yield error


def read_stream(stream: BinaryIO, source: str) -> Iterator[Entry | InputError]:
    """Entries of a byte stream, read line by line (stdin may be a live pipe).

    A line that is not UTF-8 or holds a NUL byte becomes an InputError and is skipped.
    """
    builder = EntryBuilder(source)
    lineno = 0
    for raw in stream:
        lineno += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            builder._lineno += 1
            yield InputError(f"invalid UTF-8 at byte {exc.start} of the line; line skipped", source, lineno)
            continue
        if "\x00" in line:
            builder._lineno += 1
            yield InputError("NUL byte in input; line skipped", source, lineno)
            continue
        yield from builder.feed(line.rstrip("\n").rstrip("\r"))
    entries, error = builder.finish()
    yield from entries
    if error:
        yield error


def read_file(name: str) -> Iterator[Entry | InputError]:
    """Entries of a script file (``-f``, ``\\i``, the startup file), decoded line by line.

    Reads the file at once; raises OSError (IsADirectoryError for a directory) when it
    cannot, so that each caller reports it where it belongs."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", name)
    data = path.read_bytes()
    return read_stream(io.BytesIO(data), name)
