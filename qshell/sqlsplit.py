"""Split SQL text into statements the way psql does: at ``;`` outside quotes,
dollar-quotes, comments and parentheses.

Hand-written rather than sqlparse because sqlparse splits inside an unterminated
dollar-quote and inside nested ``/* /* */ */`` comments, and takes seconds on a 1 MB
statement; this scanner jumps between special characters with one regex and is linear.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SPECIAL = re.compile(r"""[;'"$/\-()]""")
# with psql's script language: a backslash starts a meta-command, ":" may be a variable
_SPECIAL_META = re.compile(r"""[;'"$/\-()\\:]""")
_REFERENCE = re.compile(r":(?:'NAME'|\"NAME\"|\{\?NAME\}|NAME)".replace("NAME", r"(?:[A-Za-z0-9_]|[^\x00-\x7f])+"))
# psql's lexer takes any non-ASCII character in identifiers and dollar-quote tags (its
# bytes \200-\377), beyond U+FFFF too; a negated class also compiles in 0.3 ms, not 3
_DOLLAR_TAG = re.compile(r"\$((?:[A-Za-z_]|[^\x00-\x7f])(?:[A-Za-z_0-9]|[^\x00-\x7f])*)?\$")
_IDENT_CHAR = re.compile(r"[A-Za-z_0-9$]|[^\x00-\x7f]")


@dataclass(frozen=True, slots=True)
class Split:
    """Statements ended by ``;`` (without it, stripped) and the unfinished rest."""

    statements: tuple[str, ...]
    rest: str  # text after the last ``;`` (may be blank)
    open_construct: str | None  # what is unterminated in ``rest``: quote, comment...
    resume: "Resume | None" = None  # where to go on in ``text`` (absolute) when text is appended
    stop: int | None = None  # (meta mode) index in ``text`` of the backslash or variable reference met


@dataclass(frozen=True, slots=True)
class Resume:
    """The scanner's state at the end of a text in which no statement ended: scanning
    ``text + more`` may start here instead of at 0, which keeps reading a statement of
    many lines linear (each line is scanned once)."""

    at: int  # first position not yet scanned (an unterminated construct starts here)
    depth: int  # parentheses open
    block: "_Block"  # CREATE FUNCTION … BEGIN ATOMIC state


def _comment_end(text: str, i: int) -> int:
    """Index just past the block comment opening at ``i``, or -1 if it never closes.

    Comments nest, as in PostgreSQL's lexer: ``/* /* */ still comment */``."""
    nest = 1
    j = i + 2
    while nest:
        a = text.find("/*", j)
        b = text.find("*/", j)
        if b == -1:
            return -1
        if a != -1 and a < b:
            nest += 1
            j = a + 2
        else:
            nest -= 1
            j = b + 2
    return j


def _is_ident(ch: str) -> bool:
    return bool(ch) and _IDENT_CHAR.match(ch) is not None


_WORD = re.compile(r"(?:[A-Za-z_]|[^\x00-\x7f])(?:[A-Za-z_0-9$]|[^\x00-\x7f])*")
_CREATE_WORDS = frozenset({"create", "function", "procedure", "or", "replace"})


class _Block:
    """psql's heuristic for ``CREATE [OR REPLACE] FUNCTION|PROCEDURE … BEGIN ATOMIC … END``:
    in such a statement, outside parentheses, BEGIN (and CASE within it) opens a block
    that END closes, and a ``;`` inside a block does not end the statement (psqlscan.l)."""

    __slots__ = ("count", "marks", "depth")

    @property
    def create(self) -> bool:
        mk = self.marks
        return mk[:1] == "c" and (mk[1:2] in ("f", "p") or (mk[1:3] == "or" and mk[3:4] in ("f", "p")))

    def __init__(self) -> None:
        self.count = 0
        self.marks = ""  # first letters of the statement's first identifiers, psql's way
        self.depth = 0

    def copy(self) -> "_Block":
        other = _Block()
        other.count, other.marks, other.depth = self.count, self.marks, self.depth
        return other

    def words(self, text: str, a: int, b: int, parens: int) -> None:
        if self.count >= 4 and not self.create:
            return  # not a CREATE FUNCTION/PROCEDURE: no block to follow (and no cost)
        for m in _WORD.finditer(text, a, b):
            word = m.group(0).lower()
            if self.count < 4:
                self.marks += word[0] if word in _CREATE_WORDS else "\0"
            self.count += 1
            if self.count >= 4 and not self.create:
                return
            if not self.create or parens:
                continue
            if word == "begin":
                self.depth += 1
            elif word == "case" and self.depth >= 1:
                self.depth += 1
            elif word == "end" and self.depth > 0:
                self.depth -= 1


def _inside_identifier(text: str, i: int) -> bool:
    """The ``$`` at ``i`` continues an identifier (``a$$b``), as in psql's lexer; after a
    number (``1$$ … $$``) it starts a dollar quote."""
    j = i
    while j > 0 and _is_ident(text[j - 1]):
        j -= 1
    return j < i and not text[j].isdigit()


def split(text: str, keep_empty: bool = False, strip: bool = True, resume: Resume | None = None, *,
          meta: bool = False, variables: bool = False, std_strings: bool = True, novars_before: int = 0) -> Split:
    """Split ``text``; linear in its length. Never raises.

    Empty statements (a lone ``;``) are dropped unless ``keep_empty``. Without ``strip``
    each statement is the text between its ``;`` and the previous one, as it is.
    ``resume``: the ``Split.resume`` of an earlier call on a prefix of ``text`` (text only
    appended since, or changed from ``resume.at`` on), to scan only what is new.

    psql's script language (the reader): with ``meta`` the scan stops at a backslash
    outside quotes and comments (a meta-command, or ``\\;``), with ``variables`` at a
    variable reference (``:name``, ``:'name'``, ``:"name"``, ``:{?name}``; not ``::``) from
    ``novars_before`` on; ``stop`` says where. ``std_strings`` False: the server's
    ``standard_conforming_strings`` is off, and a backslash escapes in every ``'…'``.
    """
    statements: list[str] = []
    start = 0
    depth = 0
    i = 0
    n = len(text)
    open_construct: str | None = None
    block = _Block()
    if resume is not None:
        i, depth, block = resume.at, resume.depth, resume.block.copy()
    at = i  # where the construct being scanned began
    stop: int | None = None
    special = _SPECIAL_META if (meta or variables) else _SPECIAL
    while True:
        m = special.search(text, i)
        block.words(text, i, n if m is None else m.start(), depth)
        if m is None:
            i = at = n
            break
        i = at = m.start()
        ch = text[i]
        if ch == ";":
            if depth == 0 and block.depth == 0:
                stmt = text[start:i].strip() if strip else text[start:i]
                if stmt.strip() or keep_empty:
                    statements.append(stmt)
                start = i + 1
                block = _Block()
            i += 1
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth = max(0, depth - 1)
            i += 1
        elif ch == "\\":  # (meta mode) a meta-command starts here, or \\;
            if meta:
                stop = i
                break
            i += 1
        elif ch == ":":  # (meta mode) a variable reference, not the :: of a cast
            if text.startswith("::", i):
                i += 2
            elif variables and i >= novars_before and _REFERENCE.match(text, i):
                stop = i
                break
            else:
                i += 1
        elif ch == "'":
            before = text[i - 1] if i > 0 else ""
            if before in "eE":
                escapes = not _is_ident(text[i - 2] if i > 1 else "")
            elif before == "&" and i > 1 and text[i - 2] in "uU" and not _is_ident(text[i - 3] if i > 2 else ""):
                escapes = False  # U&'…': a backslash starts a Unicode escape, never escapes a quote
            else:
                escapes = not std_strings
            j = i + 1
            while True:
                k = text.find("'", j)
                if escapes:
                    b = text.find("\\", j)
                    if b != -1 and (k == -1 or b < k):
                        j = b + 2
                        continue
                if k == -1:
                    open_construct = "quoted string"
                    i = n
                    break
                if k + 1 < n and text[k + 1] == "'":
                    j = k + 2
                    continue
                i = k + 1
                break
            if open_construct:
                break
        elif ch == '"':
            k = i + 1
            while True:
                k = text.find('"', k)
                if k == -1 or not (k + 1 < n and text[k + 1] == '"'):
                    break
                k += 2
            if k == -1:
                open_construct = "quoted identifier"
                break
            i = k + 1
        elif ch == "$":
            tag = _DOLLAR_TAG.match(text, i)
            if tag is None or _inside_identifier(text, i):
                i += 1
                continue
            end = text.find(tag.group(0), tag.end())
            if end == -1:
                open_construct = "dollar-quoted string"
                break
            i = end + len(tag.group(0))
        elif ch == "-":
            if text.startswith("--", i):
                k = text.find("\n", i)
                i = n if k == -1 else k + 1
            else:
                i += 1
        elif ch == "/":
            if text.startswith("/*", i):
                j = _comment_end(text, i)
                if j == -1:
                    open_construct = "comment"
                    break
                i = j
            else:
                i += 1
    rest = text[start:]
    if open_construct is None and depth > 0 and rest.strip():
        open_construct = "parenthesis"
    return Split(tuple(statements), rest, open_construct, Resume(at, depth, block), stop)


def is_complete(text: str) -> bool:
    """True when ``text`` holds at least one statement and nothing unfinished after it."""
    s = split(text)
    return bool(s.statements) and not s.rest.strip()


def strip_comments_head(sql: str) -> str:
    """The statement without leading whitespace and comments (to find its first keyword).

    Block comments nest; one that never closes takes the rest of the text."""
    i = 0
    n = len(sql)
    while i < n:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            k = sql.find("\n", i)
            i = n if k == -1 else k + 1
        elif sql.startswith("/*", i):
            k = _comment_end(sql, i)
            i = n if k == -1 else k
        else:
            break
    return sql[i:]


# psql's lexer: the whitespace it drops before a statement starts (a "--" comment counts)
_PSQL_SPACE = " \t\n\r\f\v"


def skip_space(text: str, i: int = 0) -> int:
    """Index of the first character from ``i`` that psql would put in an empty query
    buffer: past whitespace and ``--`` comments, never past a ``/* */`` comment (psql
    sends those with the statement that follows)."""
    n = len(text)
    while i < n:
        if text[i] in _PSQL_SPACE:
            i += 1
        elif text.startswith("--", i):
            k = text.find("\n", i)
            i = n if k == -1 else k + 1
        else:
            break
    return i


def first_keyword(sql: str) -> str:
    head = strip_comments_head(sql)
    m = re.match(r"[A-Za-z]+", head)
    return m.group(0).upper() if m else ""
