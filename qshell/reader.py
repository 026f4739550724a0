"""Input -> complete entries: a meta-command line, or SQL through its ';'.

One ``EntryBuilder`` decides what is complete for every source, so a script, ``-c``,
``\\i`` and the terminal parse alike. Knows nothing of the database.
"""
from __future__ import annotations

import errno
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from . import commands
from .sqlsplit import Resume, skip_space, split, strip_comments_head


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    source: str  # "<stdin>", a file name, "-c", "<terminal>"
    line: int  # line where the entry starts (1-based)
    pending: str = ""  # for a meta-command typed mid-statement: the unfinished statement


@dataclass(frozen=True, slots=True)
class InputError:
    """Input that cannot become an entry (bad bytes in it, unterminated at the end)."""

    message: str
    source: str
    line: int


def _blank(text: str) -> bool:
    """Nothing but whitespace and complete comments."""
    return not strip_comments_head(text)


def _in_quote(open_construct: str | None) -> bool:
    """Inside a quote or comment, where psql takes every line, even an empty one or one
    starting with a backslash, as text (an open parenthesis is not such a place)."""
    return open_construct is not None and open_construct != "parenthesis"


# a NUL, or a lone surrogate: an undecodable byte under "surrogateescape" (how Python
# hands over argv, and how read_stream decodes) or any other character no UTF-8 can carry
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_REPLACED = "\ufffd"


def _bad_bytes(line: str, lineno: int) -> tuple[str, str]:
    """(``line`` fit for the lexer, what is wrong with it or ''). A line with a NUL or an
    undecodable byte is never run: the bad characters become U+FFFD only so that the
    statement boundaries around it are still found."""
    m = _BAD_CHAR.search(line)
    if m is None:
        return line, ""
    at = len(line[: m.start()].encode("utf-8")) + 1  # 1-based byte of the line
    what = "NUL byte" if m.group() == "\x00" else "invalid UTF-8"
    return _BAD_CHAR.sub(_REPLACED, line), f"{what} at byte {at} of line {lineno}"


_COPY_FROM_STDIN = re.compile(r"COPY\b.*\bFROM\s+STDIN\b", re.I | re.S)


class EntryBuilder:
    """Accumulates lines; hands out entries as soon as they are complete.

    The statement being read is kept as psql keeps its query buffer, so that the server
    gets the text psql would send: whitespace and ``--`` comments before a statement are
    dropped, a ``/* */`` comment before it is kept with it (planner hints live there),
    an empty line is dropped unless it lies in a quote or comment, and lines are joined
    with a newline. A block comment may open anywhere and span lines; what it holds,
    a ``;`` or a backslash line, is comment."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._buf = ""  # the unfinished statement, never starting with whitespace or "--"
        self._resume: Resume | None = None  # the lexer's state at the end of _buf (append-only since)
        self._open: str | None = None  # what is unterminated in it: quote, comment...
        self._prefix = ""  # "\\add " while collecting an \add statement
        self._start = 0
        self._lineno = 0
        self._bad: tuple[str, int] | None = None  # the first bad line of the entry being read
        self._copy_data = False  # after COPY … FROM STDIN: its data lines, through "\\.", are not SQL

    @property
    def pending(self) -> bool:
        """True while an unfinished statement (or a bare \\add) waits for more lines; as in
        psql, a complete comment before a statement is the start of that statement."""
        return bool(self._prefix) or bool(self._buf)

    def feed(self, line: str) -> list[Entry | InputError]:
        """Take one line (without its newline); return the entries it completed.

        An entry with a line holding a NUL or a character no UTF-8 can carry (a lone
        surrogate, as an undecodable byte becomes) comes out as an InputError instead:
        a statement is run whole or not at all."""
        self._lineno += 1
        if self._copy_data:  # inline COPY data is never read as SQL (the COPY itself is refused)
            if line.rstrip("\r") == "\\.":
                self._copy_data = False
            return []
        line, bad = _bad_bytes(line, self._lineno)
        mark = (bad, self._lineno) if bad else None
        if _in_quote(self._open):
            return self._take(line, mark)
        if not line:
            return []  # psql drops an empty line outside quotes and comments
        if not line.lstrip().startswith("\\"):
            return self._take(line, mark)
        name = commands.meta_name(line)
        if self._prefix or (self._buf and not (name in commands.SQL_TAKING and _blank(self._buf))):
            # as in psql, a meta-command line is obeyed while a statement is being typed;
            # the unfinished statement stays in the buffer (with the line's indentation)
            if mark:
                return [self._refused(mark, "command")]
            entry = Entry(line.strip(), self.source, self._lineno, pending=self._prefix + self._buf)
            indent = line[: len(line) - len(line.lstrip())]
            if self._buf and indent:
                self._buf += "\n" + indent
            return [entry]
        # a meta-command of its own (comments before an \\add go with its statement)
        self._start = self._lineno
        if name in commands.SQL_TAKING:
            self._prefix = line.lstrip()[: 1 + len(name)] + " "
            rest = line.lstrip()[1 + len(name):]
            return self._take(rest, mark) if rest.strip() else []
        if mark:
            return [self._refused(mark, "command")]
        return [Entry(line.strip(), self.source, self._lineno)]

    def _refused(self, mark: tuple[str, int], what: str) -> InputError:
        return InputError(f"{mark[0]}; {what} not run", self.source, mark[1])

    def _take(self, text: str, mark: tuple[str, int] | None = None) -> list[Entry | InputError]:
        if self._buf:
            # appended through a local so that CPython grows the string in place (an
            # attribute's `+=` copies it whole: quadratic over a statement of many lines)
            buf, self._buf = self._buf, ""
            buf += "\n"
            buf += text
            self._buf = buf
        else:
            if not self._prefix:
                self._start = self._lineno
            self._buf = text[skip_space(text):]
            self._resume = None
        if not self._buf:  # whitespace, a "--" comment: psql never sends it on its own
            self._open = None
            return []
        self._bad = self._bad or mark
        # _buf only grew since the last scan (or _resume is None): the lexer goes on where
        # it stopped, so a statement of many lines is read in linear time
        parts = split(self._buf, keep_empty=True, strip=False, resume=self._resume)
        self._resume = parts.resume
        out: list[Entry | InputError] = []
        for raw in parts.statements:
            stmt = raw[skip_space(raw):].rstrip()
            if stmt or self._prefix:  # not a lone ';' (a bare \\add with ';' is the parser's)
                # the bad characters (U+FFFD now) tell which statements of the line hold them
                if self._bad and _REPLACED in stmt:
                    out.append(self._refused(self._bad, "statement"))
                else:
                    out.append(Entry(self._prefix + stmt + ";", self.source, self._lineno))  # psql names the line the statement ends on
                if _COPY_FROM_STDIN.match(strip_comments_head(stmt)):
                    self._copy_data = True
            self._prefix = ""
            self._start = self._lineno
            self._bad = mark  # what follows lies on this line
        if parts.statements:
            self._buf = parts.rest[skip_space(parts.rest):]
        self._open = parts.open_construct
        if self._bad and _REPLACED not in self._buf:  # (scanned only when a bad line was seen)
            self._bad = None
        return out

    def reset(self) -> None:
        """Forget the unfinished statement (after \\e took it to the editor)."""
        self._buf, self._open, self._prefix, self._bad, self._resume = "", None, "", None, None

    def finish(self, terminate: bool = False) -> tuple[list[Entry], InputError | None]:
        """End of input. With ``terminate`` (as for ``-c``) a last statement without
        ``;`` is complete; otherwise unfinished input is an error, never run. Comments
        after the last statement are nothing to run."""
        if not self.pending:
            return [], None
        if self._bad:  # not run in any case; the bad line is what to mend first
            error = self._refused(self._bad, "statement")
            self.reset()
            return [], error
        what, blank, prefix = self._open, _blank(self._buf), self._prefix
        text = self._buf.rstrip()
        self.reset()
        if what is not None:
            return [], InputError(f"unterminated {what} at end of input", self.source, self._start)
        if blank and not prefix:
            return [], None
        if prefix and blank:
            return [], InputError(f"{prefix.strip()} without a statement at end of input", self.source, self._start)
        if terminate:
            return [Entry(prefix + text + ";", self.source, self._start)], None
        return [], InputError("statement not terminated by ';' at end of input (not run)", self.source, self._start)


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

    A statement (or meta-command) with a line that is not UTF-8 or holds a NUL byte
    becomes an InputError: refused whole, the entries around it unharmed.
    """
    builder = EntryBuilder(source)
    for raw in stream:
        # undecodable bytes become lone surrogates, which the builder refuses
        yield from builder.feed(raw.decode("utf-8", "surrogateescape").rstrip("\n").rstrip("\r"))
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
