"""Input -> complete entries: a meta-command line, or SQL through its ';'.

One ``EntryBuilder`` decides what is complete for every source, so a script, ``-c``,
``\\i`` and the terminal parse alike. Knows nothing of the database.
"""
from __future__ import annotations

import errno
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from qshell.script import commands
from qshell.script.sqlsplit import Resume, first_identifiers, skip_space, split, strip_comments_head
from qshell.script.variables import REFERENCE, MetaArgError, Variables, meta_args, parse_bool

TERMINAL = "<terminal>"  # the source of the lines typed at the prompt

@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    source: str  # "<stdin>", a file name, "-c", "<terminal>"
    line: int  # line where the entry starts (1-based)
    pending: str = ""  # for a meta-command: the statement being typed (psql's query buffer)


@dataclass
class ScriptContext:
    """What reading needs from the shell, shared by every reader of one qshell: psql's
    variables (interpolated in SQL as it is read), the server's
    ``standard_conforming_strings``, where ``ECHO all`` prints the lines read, and whether
    the meta-command just handed out failed (then, as psql, the rest of its line is not
    read: the reader hands out one entry at a time, the shell runs it before the next)."""

    variables: Variables = field(default_factory=Variables)
    std_strings: bool = True
    echo: Callable[[str], None] | None = None  # set by a non-interactive shell
    restricted: str | None = None  # psql's \\restrict KEY (pg_dump's scripts): only \\unrestrict KEY runs
    command_failed: bool = False  # set by the shell after each meta-command (psql's PSQL_CMD_ERROR)
    # the builders reading now, innermost (an \\i's) last: where COPY … FROM STDIN takes its data
    readers: list = field(default_factory=list)


_SP = " \t\n\r\f\v"  # psql's whitespace (never U+00A0 and the like: identifier characters to it)
# psql's \if states: the branch runs / a later \elif or \else may / none of it runs
_TRUE, _FALSE, _IGNORED = "true", "false", "ignored"
_CONDITIONALS = frozenset({"if", "elif", "else", "endif"})
_NOSEMI = "\x00"  # what \\; leaves in the statement: a ";" that does not end it (no NUL reaches here)


@dataclass(frozen=True, slots=True)
class InputError:
    """Input that cannot become an entry (bad bytes in it, unterminated at the end), or a
    meta-command the reader itself runs (\\if…) that failed. ``failed`` False: reported
    and counted as an error, but the command did its work (psql's \\if with a value that
    is not a boolean is false): neither ``ON_ERROR_STOP`` nor the rest of the line cares."""

    message: str
    source: str
    line: int
    failed: bool = True
    warning: bool = False  # only a warning (psql's "extra argument … ignored"): no error at all
    statement: bool = False  # a statement refused (psql would have sent it: it is \g's previous query)
    unreadable: bool = False  # the input itself could not be read (a -f file): psql's exit status 1


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


# psql's meta-commands whose argument is the rest of the line, backslashes included
# (OT_WHOLE_LINE), and those whose argument is the rest of the line when it starts with
# "|" (OT_FILEPIPE: a command to pipe to): read so whether qshell has the command or not,
# and in a branch that does not run too (psql's ignore_slash_whole_line / _filepipe)
_WHOLE_LINE = frozenset({"!", "copy", "ef", "ev", "sf", "sf+", "sv", "sv+", "h", "help"})
# every meta-command name psql 18 has (its exec_command): in a branch that does not run,
# psql skips these without a word, whether qshell has them or not, and names any other
_PSQL_NAMES = frozenset("""a bind bind_named C c connect cd close_prepared conninfo copyright crosstabview
    e edit ef ev echo warn qecho elif else endif endpipeline encoding errverbose f flush flushrequest g gx gdesc
    getenv getresults gexec gset h help H html i include ir include_relative if l list l+ list+ o out p print
    parse password prompt pset q quit r reset restrict s sendpipeline set setenv sf sf+ startpipeline sv sv+
    syncpipeline t T timing unrestrict unset w write watch x z zS z+ zS+ z+S ! ?""".split())


def psql_knows(name: str) -> bool:
    """``name`` is one of psql's meta-commands (\\d… and \\lo_… by their prefix, as psql
    dispatches them; \\copy in any case)."""
    return name in _PSQL_NAMES or name.startswith(("d", "lo_")) or name.lower() == "copy"
_FILE_PIPE = frozenset({"g", "gx", "o", "out", "w", "write"})
_G_OPTIONS = re.compile(r"(?:\s*\([^)]*\)?)?")  # \\g (format=csv) |cmd


def _one_command(text: str) -> tuple[str, str]:
    """(the first meta-command of ``text``, what follows it): its arguments end at a
    backslash outside '…', "…" and `…` (a quote left open runs to the end), or at the
    end of the line for psql's whole-line arguments (``\\! cmd``, ``\\w |cmd``)."""
    name = commands.meta_name(text)
    i, n = 1 + len(name), len(text)
    if name in _WHOLE_LINE or name.lower() == "copy":
        return text, ""
    if name in _FILE_PIPE:
        k = _G_OPTIONS.match(text, i).end() if name in ("g", "gx") else i  # type: ignore[union-attr]  # (always matches)
        if text[k:].lstrip(_SP).startswith("|"):
            return text, ""
    while i < n:
        ch = text[i]
        if ch == "\\":
            return text[:i].rstrip(_SP), text[i:]
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if ch == "'" and text[j] == "\\" else 1
            i = j + 1
        else:
            i += 1
    return text, ""


_COPY = re.compile("copy", re.I)  # (searched, not lower-cased: a statement may be long)


def _value_edges(value: str, at: int) -> list[int]:
    """Where a variable's ``value``, put at ``at``, begins and ends: psql's lexer reads the
    value apart, so no token spans its edges (``:v$$`` with v=abc opens a dollar quote; a
    ``--`` in the value ends with it; ``e`` then ``'…'`` is no E-string) — split's
    ``fresh`` positions."""
    return [at, at + len(value)]


# a statement and its ";" with no character the lexer acts on (see _take)
_SIMPLE = re.compile(r"([^'\"$/\-()\\:;]*);[ \t\r]*")
# a whole "\\add STATEMENT;" line with a simple statement (see _SIMPLE): read at once
_ADD_SIMPLE = re.compile(r"[ \t\n\r\f\v]*(\\add)[ \t\n\r\f\v]+([^'\"$/\-()\\:;]*);[ \t\r]*")


class EntryBuilder:
    """Accumulates lines; hands out entries as soon as they are complete.

    The statement being read is kept as psql keeps its query buffer, so that the server
    gets the text psql would send: whitespace and ``--`` comments before a statement are
    dropped, a ``/* */`` comment before it is kept with it (planner hints live there),
    an empty line is dropped unless it lies in a quote or comment, and lines are joined
    with a newline. A block comment may open anywhere and span lines; what it holds,
    a ``;`` or a backslash line, is comment."""

    def __init__(self, source: str, context: ScriptContext | None = None, look_ahead: bool = False) -> None:
        self.source = source
        self.context = context or ScriptContext()
        self._look = look_ahead  # only to see where entries end (the terminal's Enter): no variables, no \\if
        self._novars = 0  # no variable reference is looked for before this index of _buf
        # \\if stack: (state, \\else seen, _buf length, the lexer's state at the branch's start)
        self._conds: list[tuple[str, bool, int, Resume]] = []
        self._buf = ""  # the unfinished statement, never starting with whitespace or "--"
        self._resume: Resume | None = None  # the lexer's state at the end of _buf (append-only since)
        self._fresh: set[int] = set()  # where a variable's value begins or ends before a "$" (split's fresh)
        self._ended = 0  # (in a branch that does not run) _buf's end of the last statement ended there
        self._open: str | None = None  # what is unterminated in it: quote, comment...
        self._prefix = ""  # "\\add " while collecting an \add statement
        self._start = 0
        self._lineno = 0
        self._bad: tuple[str, int] | None = None  # the first bad line of the entry being read
        self._copy_data = 0  # data blocks to skip (after COPY … FROM STDIN): through "\\.", not SQL
        self._copy_from = False  # the last statement with identifiers was a COPY … FROM STDIN (psql's view)
        self._after: tuple[str, tuple[str, int] | None] | None = None  # a meta-command _take stopped at
        # the next raw line of this builder's input (None at its end), for COPY … FROM STDIN's
        # data: set by the reader that feeds it (read_stream, read_text, the terminal)
        self.lines: Callable[[], bytes | None] | None = None
        self.script_file = False  # a script file (-f, -f -, \\i): psql's pset.inputfile is set

    @property
    def lineno(self) -> int:
        """The number of the last line read (psql's pset.lineno: its messages name it)."""
        return self._lineno

    def copy_data(self) -> Iterator[bytes]:
        """psql's data for a ``COPY … FROM STDIN`` sent from this input: the lines after it,
        each with its newline, through a line ``\\.`` (not sent) or the end of the input.
        The block the builder would otherwise skip (``_copy_blocks``) is the one taken."""
        if self._copy_data:
            self._copy_data -= 1
        lines = self.lines
        if lines is None:
            return
        held: list[bytes] = []  # lines handed on ~64 kB at a time (a million lines: not a million yields)
        size = 0
        while True:
            raw = lines()
            if raw is None or raw in (b"\\.", b"\\.\r"):  # psql's end of data: exactly \\. and its line end
                if raw is not None:
                    self._lineno += 1
                if held:
                    yield b"\n".join(held) + b"\n"
                return
            self._lineno += 1
            held.append(raw)
            size += len(raw) + 1
            if size >= 65536:
                yield b"\n".join(held) + b"\n"
                held, size = [], 0

    @property
    def pending(self) -> bool:
        """True while an unfinished statement (or a bare \\add) waits for more lines; as in
        psql, a complete comment before a statement is the start of that statement."""
        return bool(self._prefix) or bool(self._buf)

    @property
    def pending_text(self) -> str:
        """The unfinished statement so far ('' when none): what a continuation prompt follows."""
        return self._prefix + self._buf.replace(_NOSEMI, ";")

    def feed(self, line: str) -> Iterator[Entry | InputError]:
        """Take one line (without its newline); yield the entries it completes, one at a
        time: a meta-command's entry is run by the shell before the rest of its line is
        read (as psql's lexer goes on after each command), so that what a command does
        (a variable set, a failure: ``ScriptContext.command_failed``) counts for what
        follows it on the line. A caller that only looks must still exhaust it.

        An entry with a line holding a NUL or a character no UTF-8 can carry (a lone
        surrogate, as an undecodable byte becomes) comes out as an InputError instead:
        a statement is run whole or not at all."""
        self._lineno += 1
        if self._copy_data:  # inline COPY data is never read as SQL (the COPY itself is refused)
            if line in ("\\.", "\\.\r"):  # psql's end of data: exactly \\. and its line end
                self._copy_data -= 1
            return
        ctx = self.context
        if ctx.echo is not None and line and not self._look and ctx.variables.get("ECHO") == "all":
            ctx.echo(line)  # psql -a: every non-empty line as it is read
        line, bad = _bad_bytes(line, self._lineno)
        mark = (bad, self._lineno) if bad else None
        if not (bad or self._bad or self._buf or self._prefix or self._open or self._look) and "\\add" in line:
            # the common script line "\\add SELECT …;" whole, nothing pending: the entry the
            # steps below would make (\\add's prefix, the simple statement, its ";")
            simple = _ADD_SIMPLE.fullmatch(line)
            if (simple is not None and simple.group(2).strip() and simple.group(2)[:6].lower() != "create"
                    and self._active()):
                stmt = simple.group(2)
                yield Entry(simple.group(1) + " " + stmt.rstrip() + ";", self.source, self._lineno)
                self._copy_blocks(stmt)
                self._start = self._lineno
                return
        if _in_quote(self._open):
            yield from self._sql(line, mark)
            yield from self._line_end()
            return
        if not line:
            return  # psql drops an empty line outside quotes and comments
        if not line.lstrip(_SP).startswith("\\") or line.lstrip(_SP).startswith(("\\;", "\\:")):
            yield from self._sql(line, mark)  # (\\; and \\: are SQL's: a ";" that does not end
            yield from self._line_end()  # the statement, a ":" that starts no variable)
            return
        name = commands.meta_name(line)
        if self._prefix or (self._buf and not (name in commands.SQL_TAKING and _blank(self._buf))):
            # as in psql, a meta-command line is obeyed while a statement is being typed;
            # the unfinished statement stays in the buffer (with the line's indentation)
            indent = line[: len(line) - len(line.lstrip(_SP))]
            yield from self._meta(line.strip(_SP), mark, indent=indent)
            return
        # a meta-command of its own (comments before an \\add go with its statement)
        self._start = self._lineno
        if name in commands.SQL_TAKING and self._active():
            self._prefix = line.lstrip(_SP)[: 1 + len(name)] + " "
            rest = line.lstrip(_SP)[1 + len(name):]
            if rest.strip(_SP):
                yield from self._sql(rest, mark)
            return
        yield from self._meta(line.strip(_SP), mark)

    def _sql(self, text: str, mark: tuple[str, int] | None, join: str = "\n") -> Iterator[Entry | InputError]:
        """SQL text (see ``_take``), then the meta-commands that end it on its line."""
        yield from self._take(text, mark, join)
        after, self._after = self._after, None
        if after is not None:
            yield from self._meta(*after)

    def _line_end(self) -> list[Entry | InputError]:
        """psql's SINGLELINE (``-S``): the end of a line ends the statement typed, as a ";"
        would, unless it lies in a quote, a comment, parentheses or a BEGIN ATOMIC block;
        the text is sent as typed, with no ";" added (psql's query buffer as it is)."""
        if (self._prefix or self._open is not None or not self._buf.strip(_SP)
                or not self.context.variables.is_on("SINGLELINE") or not self._active()):
            return []
        if self._resume is not None and self._resume.block.depth:
            return []
        raw, bad = self._buf, self._bad
        self.reset()
        self._start = self._lineno
        if bad and _REPLACED in raw:
            return [self._refused(bad, "statement")]
        self._copy_blocks(raw)
        return [Entry(raw.replace(_NOSEMI, ";"), self.source, self._lineno)]

    @property
    def skipping(self) -> bool:
        """Inside a \\if branch that does not run (psql's prompt shows ``@``)."""
        return not self._active()

    # -- meta-commands and \\if ------------------------------------------------------------
    def _active(self) -> bool:
        """Not inside a \\if branch that does not run."""
        return not self._conds or self._conds[-1][0] == _TRUE

    def _meta(self, text: str, mark: tuple[str, int] | None, indent: str = "") -> Iterator[Entry | InputError]:
        """The meta-commands of ``text`` (from a backslash to the end of the line), as
        psql reads them: an unquoted backslash in the arguments ends them; ``\\\\`` is
        eaten and what follows is SQL, as is a ``\\;`` or ``\\:`` there (psql's SQL lexer
        takes over after each command); any other backslash starts the next command.
        After a command that failed (unknown, a bad argument, a failure of its own: psql's
        PSQL_CMD_ERROR) the rest of the line is dropped, as psql drops it."""
        while True:  # (a loop: a line may chain thousands of commands)
            first, rest = _one_command(text)
            failed = False
            # (a bad byte later on the line is the later command's, or the SQL's after it)
            for entry in self._command(first, mark if mark and _REPLACED in first else None, indent):
                if isinstance(entry, Entry):
                    self.context.command_failed = False
                    yield entry  # the shell runs it, and says whether it failed, before this goes on
                    failed = self.context.command_failed
                    spec = commands.BY_NAME.get(commands.meta_name(entry.text))
                    if spec is not None and spec.ends_query and (not failed or spec.name in ("r", "watch")):
                        self.reset()  # \\g sent the buffer (a \\g that failed, as psql's, keeps it; \\watch never)
                else:
                    yield entry
                    failed = entry.failed
            if failed or not rest:
                return
            if rest.startswith(("\\\\", "\\;", "\\:")):
                self._after = None
                yield from self._take(rest[2:] if rest[1] == "\\" else rest, mark, join="")
                if self._after is None:
                    return
                (text, mark), self._after = self._after, None
            else:
                text = rest
            indent = ""

    def _command(self, text: str, mark: tuple[str, int] | None, indent: str = "") -> list[Entry | InputError]:
        """One meta-command, obeyed with the statement being typed left in the buffer — or,
        for \\g and its kin, taken from it: they send the buffer (psql's query buffer) and
        empty it."""
        name = commands.meta_name(text)
        if self.context.restricted is not None and name != "unrestrict" and self._active() and not self._look:
            return [InputError("backslash commands are restricted; only \\unrestrict is allowed",
                               self.source, self._lineno)]
        if not self._look and name in _CONDITIONALS:
            return self._conditional(name, text, mark)
        if not self._active():  # psql skips every other command in a branch that does not run,
            if self._look:  # but names one it does not know (qshell's own commands are known here)
                return []
            if psql_knows(name) or commands.lookup(name)[0] is not None:
                return self._skipped_args(name, text)
            return [InputError(f"invalid command \\{name or ''}", self.source, self._lineno)]
        if mark:
            return [self._refused(mark, "command")]
        spec = commands.BY_NAME.get(name)
        pending = self._prefix + self._buf.replace(_NOSEMI, ";")
        entry: Entry | InputError = Entry(text, self.source, self._lineno, pending=pending)
        if spec is not None and spec.ends_query:
            if spec.name in ("g", "gx", "gset", "gexec") and not self._look:
                self._copy_blocks(self._buf)
            if self._prefix and spec.name != "r":
                entry = InputError(f"\\{name} cannot end an {self._prefix.strip()} statement (end it with ';')",
                                   self.source, self._lineno)
                self.reset()
        elif self._buf and indent:
            self._buf += "\n" + indent
            self._resume = None
        return [entry]

    def _skipped_args(self, name: str, text: str, extra: bool = False) -> list[Entry | InputError]:
        """What psql says of the arguments of a command it does not run (in a branch that
        does not run, or after \\else and \\endif, which take none): read all the same,
        nothing replaced or run, a quote left open is an error, and (``extra``, where
        psql reads them after the command, in a branch that runs) each is a warning."""
        arg = text.lstrip(_SP)[1 + len(name):]
        if name in _WHOLE_LINE or name.lower() == "copy" or not arg.strip(_SP):
            return []
        if name in _FILE_PIPE:
            k = _G_OPTIONS.match(arg).end() if name in ("g", "gx") else 0  # type: ignore[union-attr]  # (always matches)
            if arg[k:].lstrip(_SP).startswith("|"):
                return []
        got = meta_args(arg, None, take=0)
        out: list[Entry | InputError] = []
        if extra and self._active():
            out.extend(InputError(f'\\{name}: extra argument "{word}" ignored', self.source, self._lineno,
                                  failed=False, warning=True) for word in got.extra)
        if got.problem:
            out.append(InputError(got.problem, self.source, self._lineno, failed=False))  # (psql's lexer names no command)
        return out

    def _conditional(self, name: str, text: str, mark: tuple[str, int] | None) -> list[Entry | InputError]:
        """psql's \\if / \\elif / \\else / \\endif, kept per source (a file's \\if must
        end in that file). An expression that is not a boolean is an error and false.

        As psql, what a branch that does not run adds to the statement being typed stays
        in it (a ";" there sends nothing) until the branch ends, then goes: the buffer
        and its parenthesis depth are as they were when the branch began (psql's
        discard_query_text); the rest of the lexer's state is kept. As psql, a \\if or
        \\elif whose expression is not a boolean reports it and goes on (false); a branch
        command out of place fails."""
        def error(message: str) -> list[Entry | InputError]:
            return [InputError(message, self.source, self._lineno)]

        def problems(found: list[str]) -> list[Entry | InputError]:
            return [InputError(message, self.source, self._lineno, failed=False) for message in found]

        # a \\if / \\elif with bytes that are not UTF-8: an error and false, as psql takes a value
        # that is not a boolean (never skipped: its branch must not run)
        refused = self._refused(mark, "command").message if mark else ""
        arg = text.lstrip(_SP)[1 + len(name):]
        conds = self._conds
        if name == "if":
            start = (len(self._buf), self._lexer_state())
            if not self._active():
                conds.append((_IGNORED, False, *start))
                return self._skipped_args(name, text)
            value, found = (False, [refused]) if refused else self._condition(name, arg)
            conds.append((_TRUE if value else _FALSE, False, *start))
            return problems(found)
        if not conds:
            return error(f"\\{name}: no matching \\if")
        state, seen_else, mark_len, mark_state = conds[-1]
        if name != "endif" and seen_else:
            return error(f"\\{name}: cannot occur after \\else")
        if state != _TRUE:  # what the branch that did not run added goes, and the lexer's count of it
            self._buf = self._buf[:mark_len]
            self._resume = Resume(mark_len, mark_state.depth, mark_state.block.copy())
            self._fresh = {p for p in self._fresh if p <= mark_len}
            self._ended = min(self._ended, mark_len)
            self._novars = min(self._novars, mark_len)
            if self._bad and _REPLACED not in self._buf:
                self._bad = None
        start = (len(self._buf), self._lexer_state())
        if name == "endif":
            conds.pop()
            return self._skipped_args(name, text, extra=True)
        if name == "else":
            conds[-1] = (_TRUE if state == _FALSE else _IGNORED, True, *start)
            return self._skipped_args(name, text, extra=True)
        if state != _FALSE:  # \\elif after a branch that ran (or inside one that does not)
            conds[-1] = (_IGNORED, False, *start)
            return self._skipped_args(name, text)
        value, found = (False, [refused]) if refused else self._condition(name, arg)
        conds[-1] = (_TRUE if value else _FALSE, False, *start)
        return problems(found)

    def _lexer_state(self) -> Resume:
        """The lexer's state at the end of the statement being typed."""
        r = self._resume
        if r is None or r.at < len(self._buf):
            r = split(self._buf, keep_empty=True, strip=False, resume=r, std_strings=self.context.std_strings,
                      fresh=self._fresh).resume
            assert r is not None
        return r

    def _condition(self, name: str, arg: str) -> tuple[bool, list[str]]:
        """(the value of a \\if / \\elif expression, what is wrong with it). As psql, a
        quote left open ends the expression, the words before it are its value."""
        try:
            got = meta_args(arg, self.context.variables)
        except MetaArgError as exc:  # a backquoted command that failed
            return False, [f"\\{name}: {exc}"]
        found = [got.problem] if got.problem else []
        value = " ".join(got.words)  # psql takes the whole expression: "on off" is not a boolean
        parsed = parse_bool(value)
        if parsed is None:
            found.append(f'unrecognized value "{value}" for "\\{name} expression": Boolean expected')
            return False, found
        return parsed, found

    def _refused(self, mark: tuple[str, int], what: str) -> InputError:
        return InputError(f"{mark[0]}; {what} not run", self.source, mark[1], statement=what == "statement")

    # -- SQL --------------------------------------------------------------------------------
    def _take(self, text: str, mark: tuple[str, int] | None = None, join: str = "\n") -> list[Entry | InputError]:
        """SQL text: a new line (``join``: the rest of a line after ``\\\\`` continues it)."""
        local = bool(self._buf) and self._open is None and ":" in text and not self._look and self._active()
        fresh: list[int] = []
        new = not self._buf  # the line starts a statement (only then may it be a whole simple one)
        if local:  # its variables replaced within the line: never a copy of the whole statement per reference
            text, fresh = self._interpolate_line(text)
        if self._buf:
            # appended through a local so that CPython grows the string in place (an
            # attribute's `+=` copies it whole: quadratic over a statement of many lines)
            buf, self._buf = self._buf, ""
            buf += join
            offset = len(buf)
            buf += text
            self._buf = buf
            if local:
                self._novars = len(buf)
                self._fresh.update(offset + p for p in fresh)
        else:
            if not self._prefix:
                self._start = self._lineno
            self._buf = text[skip_space(text):]
            self._resume = None
            self._novars = 0
            self._fresh, self._ended = set(), 0
        if not self._buf:  # whitespace, a "--" comment: psql never sends it on its own
            self._open = None
            return []
        self._bad = self._bad or mark
        ctx = self.context
        out: list[Entry | InputError] = []
        # (tried on a line that starts a statement only: on a long buffer it would scan it whole, per line)
        simple = _SIMPLE.fullmatch(self._buf) if new and not self._bad and self._active() else None
        if simple is not None and simple.group(1).strip() and simple.group(1).lstrip(_SP)[:6].lower() != "create":
            # (a CREATE may be a FUNCTION with BEGIN … END, which a ";" does not end)
            # the common line, a whole statement with nothing the lexer must look at (no
            # quote, comment, parenthesis, variable, backslash; one ";" at its end): as split
            # would end it, without the scan (50,000 \\add lines: a third faster)
            self._buf, self._open, self._resume, self._novars, self._fresh = "", None, None, 0, set()
            self._statement(simple.group(1), True, mark, out)
            return out
        while True:
            active = self._active()
            # _buf only grew since the last scan (or _resume is None): the lexer goes on where
            # it stopped, so a statement of many lines is read in linear time
            buf = self._buf
            parts = split(buf, keep_empty=True, strip=False, resume=self._resume, meta=True,
                          variables=not self._look and active, std_strings=ctx.std_strings,
                          novars_before=self._novars, fresh=self._fresh, start=0 if active else self._ended)
            base = 0
            if not active:  # psql's query buffer does not change in a branch that does not run: a ";" sends nothing
                self._ended = len(buf) - len(parts.rest)
            elif parts.statements:
                self._ended = 0
                for raw in parts.statements:
                    self._statement(raw, active, mark, out)
                skipped = skip_space(parts.rest)
                base = len(buf) - len(parts.rest) + skipped
                self._buf = buf = parts.rest[skipped:]
                if self._fresh:
                    self._fresh = {p - base for p in self._fresh if p >= base}
            assert parts.resume is not None
            r = parts.resume
            self._resume = r.shifted(base)
            self._novars = max(0, self._novars - base)
            self._open = parts.open_construct
            if parts.stop is None:
                break
            at = parts.stop - base
            if buf.startswith(":", at):  # a variable reference: its value takes its place
                m = REFERENCE.match(buf, at)
                assert m is not None  # split stops only at one
                value = ctx.variables.reference(m)
                if value is None:  # an unknown variable stays as typed, as in psql (a token of its own)
                    self._novars = m.end()
                    self._fresh.add(m.end())
                else:
                    if at == 0:  # psql drops whitespace and "--" comments before a statement, the value's too
                        value = value[skip_space(value):]
                    self._buf = buf[:at] + value + buf[m.end():]
                    self._novars = at + len(value)  # the value is lexed, not interpolated again
                    self._fresh.update(_value_edges(value, at))
                continue
            if buf.startswith(("\\;", "\\:"), at) and at + 1 not in self._fresh:  # \\; : a ";" that does not end the statement
                semi = buf[at + 1] == ";"  # (\\: a ":" that starts no variable)
                self._buf = buf[:at] + (_NOSEMI if semi else ":") + buf[at + 2:]
                self._resume = Resume(at if semi else at + 1, r.depth, r.block)  # (split counts anew at the NUL)
                # (two characters became one: what lay after them moved back by one)
                self._novars = self._novars - 1 if self._novars >= at + 2 else max(self._novars, at + 1)
                if self._fresh:
                    self._fresh = {p if p <= at else p - 1 for p in self._fresh}
                continue
            # a meta-command after SQL on the same line: the SQL stays in the buffer, the
            # command is the caller's to run (_sql, _meta), once these statements have run
            self._buf = buf[:at]
            self._resume = Resume(at, r.depth, r.block)
            self._after = (buf[at:].strip(_SP), self._bad if self._bad and _REPLACED in buf[at:] else None)
            break
        if self._bad and _REPLACED not in self._buf:  # (scanned only when a bad line was seen)
            self._bad = None
        return out

    def _interpolate_line(self, text: str) -> tuple[str, list[int]]:
        """``text``, a line that starts outside any quote or comment, with its variable
        references replaced as the lexer meets them (a plain value is lexed as SQL, not
        interpolated again); up to a meta-command's backslash, which is left as it is.
        With it, where values begin or end before a ``$`` (split's ``fresh``)."""
        resume: Resume | None = None
        after = 0
        fresh: list[int] = []
        while True:
            parts = split(text, keep_empty=True, strip=False, resume=resume, meta=True, variables=True,
                          std_strings=self.context.std_strings, novars_before=after, fresh=set(fresh))
            at = parts.stop
            r = parts.resume
            assert r is not None
            if at is not None and text.startswith(("\\;", "\\:"), at):  # SQL's: the line goes on
                resume, after = Resume(at + 2, r.depth, r.block), max(after, at + 2)
                continue
            if at is None or not text.startswith(":", at):
                return text, fresh
            m = REFERENCE.match(text, at)
            assert m is not None
            value = self.context.variables.reference(m)
            if value is None:
                after = m.end()
                fresh.append(m.end())
            else:
                fresh.extend(_value_edges(value, at))
                text = text[:at] + value + text[m.end():]
                after = at + len(value)
            resume = Resume(at, r.depth, r.block)

    def _statement(self, raw: str, active: bool, mark: tuple[str, int] | None, out: list[Entry | InputError]) -> None:
        """One statement ended by ``;``: an entry, with the text psql would send (from its
        first word, or the ``/* */`` comment before it, through the ``;``)."""
        stmt = raw[skip_space(raw):]
        if active:  # a lone ";" too: psql sends it (a bare \\add with ';' is the parser's)
            # the bad characters (U+FFFD now) tell which statements of the line hold them
            if self._bad and _REPLACED in stmt:
                out.append(self._refused(self._bad, "statement"))
            else:
                text = (self._prefix + stmt.rstrip() + ";") if self._prefix else stmt + ";"
                out.append(Entry(text.replace(_NOSEMI, ";"), self.source, self._lineno))  # psql names the line the statement ends on
            self._copy_blocks(stmt)
        self._prefix = ""
        self._start = self._lineno
        self._bad = mark  # what follows lies on this line

    def _copy_blocks(self, sent: str) -> None:
        """psql takes one data block from the script (through ``\\.``) per ``COPY … FROM
        STDIN`` of a text it sends (a \\; group may hold several). As psql 18's lexer, a
        statement without identifiers (``;`` alone, ``'x'``) is taken as the one before it
        was: an empty statement after such a COPY takes a block too."""
        if not self._copy_from and _COPY.search(sent) is None:
            return  # (cheap: no COPY here, and none before it to take after)
        # the statements the server will see: at each \\; outside parentheses (psql 18 looks
        # at what it sends this way: SELECT(\\;)COPY … is one statement, not a COPY)
        cut = split(sent.replace(_NOSEMI, ";"), keep_empty=True, strip=False, std_strings=self.context.std_strings)
        for part in (*cut.statements, cut.rest):
            ids = first_identifiers(part, 8, self.context.std_strings)
            if ids:
                self._copy_from = ids[0] == "copy" and any(
                    a == "from" and b in ("stdin", "stdout") for a, b in zip(ids, ids[1:], strict=False))
            self._copy_data += self._copy_from

    def reset(self) -> None:
        """Forget the unfinished statement (after \\e took it to the editor)."""
        self._buf, self._open, self._prefix, self._bad, self._resume, self._novars = "", None, "", None, None, 0
        self._fresh, self._ended = set(), 0

    def finish(self, send_pending: bool = True) -> tuple[list[Entry], InputError | None]:
        """End of input. As psql reading a script, a last statement without ``;`` is sent
        as it is (the server judges it: an unterminated quote is its error); a bad line
        keeps it from running. ``send_pending`` False (Ctrl-D at a prompt, as psql):
        dropped. Comments after the last statement are nothing to run. An \\if left open
        is an error (psql: reached EOF without finding closing \\endif), but for a ``-c``
        command, whose \\if psql ends with it silently."""
        conds, self._conds = self._conds, []
        unclosed = InputError("reached EOF without finding closing \\endif(s)", self.source, self._lineno) \
            if conds and self.source != "-c" else None
        if not self.pending or not send_pending or (conds and conds[-1][0] != _TRUE):
            self.reset()
            return [], unclosed
        if self._bad:  # not run in any case; the bad line is what to mend first
            error = self._refused(self._bad, "statement")
            self.reset()
            return [], error
        what, blank, prefix = self._open, _blank(self._buf), self._prefix
        text = self._buf.rstrip() if prefix else self._buf
        self.reset()
        if not text.strip() and not prefix:
            return [], unclosed  # (a comment alone is sent, as psql sends any buffer left)
        if prefix and (blank or what is not None):
            problem = f"unterminated {what}" if what is not None else "without a statement"
            return [], InputError(f"{prefix.strip()} {problem} at end of input", self.source, self._start)
        if prefix:
            return [Entry(prefix + text + ";", self.source, self._start)], unclosed
        return [Entry(text.replace(_NOSEMI, ";"), self.source, self._lineno)], unclosed  # psql: its last line


def read_text(text: str, source: str, context: ScriptContext | None = None) -> Iterator[Entry | InputError]:
    """Entries of a whole text (a ``-c`` argument, a file already read)."""
    builder = EntryBuilder(source, context)
    lines = iter(_lines(text))
    builder.lines = lambda: next((line.encode("utf-8", "surrogateescape") for line in lines), None)
    with reading(builder):
        for line in lines:
            yield from builder.feed(line)  # a CR of a CRLF line end stays, as psql keeps it
        entries, error = builder.finish()
        yield from entries
        if error:
            yield error


@contextmanager
def reading(builder: EntryBuilder) -> Iterator[None]:
    """``builder`` is the input being read (``ScriptContext.readers``) while the block runs."""
    readers = builder.context.readers
    readers.append(builder)
    try:
        yield
    finally:
        if builder in readers:
            readers.remove(builder)


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # a final newline ends the last line; no empty line follows it
    return lines


def _sql_only(text: str, std_strings: bool) -> bool:
    """``text`` read as a script holds SQL statements and nothing else: no meta-command,
    no \\if, no bad byte (``\\;`` is SQL's)."""
    builder = EntryBuilder("-c", ScriptContext(std_strings=std_strings), look_ahead=True)
    entries = [e for line in _lines(text) for e in builder.feed(line)]
    rest, error = builder.finish()
    return error is None and all(isinstance(e, Entry) and not e.text.startswith("\\") for e in (*entries, *rest))


def read_command(text: str, context: ScriptContext | None = None) -> Iterator[Entry | InputError]:
    """Entries of a ``-c`` string. One of SQL statements only is one entry, sent as one
    query as psql sends it (one implicit transaction: an error undoes what came before
    it): the string itself, or, when variables were replaced in it, its statements
    joined. A string with meta-commands is read as a script, line by line (psql would run
    one meta-command, or send the backslashes to the server)."""
    context = context or ScriptContext()
    if not _sql_only(text, context.std_strings):
        yield from read_text(text, "-c", context)
        return
    entries = list(read_text(text, "-c", context))
    if len(entries) < 2 or not all(isinstance(e, Entry) for e in entries):
        yield from entries
        return
    texts = [e.text for e in entries if isinstance(e, Entry)]
    plain = [e.text for e in read_text(text, "-c", ScriptContext(std_strings=context.std_strings))
             if isinstance(e, Entry)]
    # no variable replaced, no \\; turned into ";" (each statement is in the string as it is):
    # psql's text as it is, a backslash inside a literal included
    same = texts == plain and all(t in text for t in texts)
    yield Entry(text if same else "\n".join(texts), "-c", entries[-1].line)


def _psql_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of a file or stdin as psql reads them (its gets_fromFile), without their
    newline. psql reads a line in pieces of at most 1023 bytes (fgets) and keeps each piece
    up to its first NUL byte: the bytes after a NUL in its piece are never read, and when
    the newline was among them the next line goes on the same line (where a "--" before the
    NUL makes a comment of it). Here the NUL itself stays where it was, so that the builder
    refuses the statement or meta-command it ends up in."""
    pending = b""
    for raw in stream:
        if b"\x00" in raw:
            raw = b"".join(piece[:piece.find(b"\x00") + 1] if b"\x00" in piece else piece
                           for piece in (raw[i:i + 1023] for i in range(0, len(raw), 1023)))
        elif not pending and raw[-1:] == b"\n":  # (the common line: no copy made to join it)
            yield raw[:-1]
            continue
        pending += raw
        if pending.endswith(b"\n"):
            yield pending[:-1]
            pending = b""
    if pending:
        yield pending


def read_stream(stream: BinaryIO, source: str, context: ScriptContext | None = None,
                script_file: bool = False) -> Iterator[Entry | InputError]:
    """Entries of a byte stream, read line by line (stdin may be a live pipe).

    A statement (or meta-command) with a line that is not UTF-8 becomes an InputError:
    refused whole, the entries around it unharmed; so is one with a NUL byte, after which
    its line is not read (see _psql_lines).
    """
    builder = EntryBuilder(source, context)
    builder.script_file = script_file
    first = True
    lines = _psql_lines(stream)
    builder.lines = lambda: next(lines, None)
    with reading(builder):
        for raw in lines:
            if first:  # psql skips a UTF-8 byte-order mark at the start of a file or stdin
                raw, first = raw.removeprefix(b"\xef\xbb\xbf"), False
            # undecodable bytes become lone surrogates, which the builder refuses
            yield from builder.feed(raw.decode("utf-8", "surrogateescape"))  # a CR stays (psql)
        entries, error = builder.finish()
        yield from entries
        if error:
            yield error


def read_file(name: str, context: ScriptContext | None = None) -> Iterator[Entry | InputError]:
    """Entries of a script file (``-f``, ``\\i``, the startup file), decoded line by line.

    Opens the file now and raises OSError (IsADirectoryError for a directory) when it
    cannot, so that each caller reports it where it belongs; then reads it as psql does,
    a line at a time (a plain-format dump of gigabytes of COPY data is never held whole);
    the file is closed when its last entry has been read (or the reading stopped)."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", name)
    stream = open(path, "rb")  # noqa: SIM115 - closed by _entries_of
    return _entries_of(stream, name, context)


def _entries_of(stream: BinaryIO, name: str, context: ScriptContext | None) -> Iterator[Entry | InputError]:
    with stream:
        yield from read_stream(stream, name, context, script_file=True)
