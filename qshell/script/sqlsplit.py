"""Split SQL text into statements the way psql does: at ``;`` outside quotes,
dollar-quotes, comments and parentheses.

Hand-written rather than sqlparse because sqlparse splits inside an unterminated
dollar-quote and inside nested ``/* /* */ */`` comments, and takes seconds on a 1 MB
statement; this scanner jumps between special characters with one regex and is linear.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# (a NUL: the reader's \\; in the statement, where psql's count of its first words starts anew)
_SPECIAL = re.compile(r"""[;'"$/\-()\x00]""")
# with psql's script language: a backslash starts a meta-command, ":" may be a variable
_SPECIAL_META = re.compile(r"""[;'"$/\-()\\:\x00]""")
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
    # the unterminated construct at ``at``, and how to go on scanning it from where it was
    # left (never its start again: a function body of many lines is read once):
    # ("'", kind, position) | ('"', 0, position) | ("$", tag, position) | ("/*", nesting, position)
    inside: "tuple[str, object, int] | None" = None

    def shifted(self, base: int) -> "Resume":
        """The same state in the text with its first ``base`` characters cut off."""
        inside = self.inside
        if inside is not None:
            inside = (inside[0], inside[1], inside[2] - base)
        return Resume(self.at - base, self.depth, self.block, inside)


def _comment_scan(text: str, nest: int, j: int) -> tuple[int, int, int]:
    """Scan a block comment from ``j`` with ``nest`` comments open: (the index just past
    its end or -1, and when -1 the nesting and where to go on when text is appended).

    Comments nest, as in PostgreSQL's lexer: ``/* /* */ still comment */``."""
    while True:
        a = text.find("/*", j)
        b = text.find("*/", j)
        if b == -1:
            # (a "/" or "*" at the very end may begin a "/*" or "*/" with what comes)
            if a != -1:  # every "/*" left opens one more (two never overlap)
                nest += text.count("/*", a)
                j = text.rfind("/*") + 2
            return -1, nest, max(j, len(text) - 1)
        if a != -1 and a < b:
            nest += 1
            j = a + 2
        else:
            nest -= 1
            j = b + 2
            if not nest:
                return j, 0, j


def _comment_end(text: str, i: int) -> int:
    """Index just past the block comment opening at ``i``, or -1 if it never closes."""
    return _comment_scan(text, 1, i + 2)[0]


_PLAIN, _ESCAPES, _BITS = 0, 1, 2  # a '…' string's kind: '…', E'…' (backslash escapes), B'…'/X'…'


def _quote_scan(text: str, j: int, mode: int) -> tuple[int, int]:
    """Scan a '…' string of kind ``mode`` from ``j`` (inside it): (the index just past its
    closing quote or -1, and when -1 where to go on when text is appended). In B'…' and
    X'…' a doubled quote is no quote: the string ends there and another begins (psql)."""
    n = len(text)
    escapes = mode == _ESCAPES
    while True:
        k = text.find("'", j)
        if escapes:
            b = text.find("\\", j)
            if b != -1 and (k == -1 or b < k):
                j = b + 2
                continue
        if k == -1:
            return -1, max(j, n) if escapes else n
        if k + 1 < n and text[k + 1] == "'" and mode != _BITS:
            j = k + 2
            continue
        # 'a'<CR>'b': one string, in the first one's mode (escapes or not, whatever the
        # second one's own prefix or standard_conforming_strings would make it); a quote last
        # on its line may be continued by the next line's start (psql never sees the \n
        # between lines)
        cont = _CONTINUE.match(text, k + 2 if text.startswith("\n", k + 1) else k + 1)
        if cont is not None:
            j = cont.end()
            continue
        return k + 1, 0


def _ident_scan(text: str, k: int) -> tuple[int, int]:
    """Scan a "…" identifier from ``k`` (inside it): as _quote_scan."""
    n = len(text)
    while True:
        k = text.find('"', k)
        if k == -1:
            return -1, n
        if not (k + 1 < n and text[k + 1] == '"'):
            return k + 1, 0
        k += 2


def _is_ident(ch: str) -> bool:
    return bool(ch) and _IDENT_CHAR.match(ch) is not None


_NEWLINE = re.compile(r"[\n\r]")


def _line_end(text: str, i: int, n: int) -> int:
    """Index just past the ``--`` comment at ``i``: psql's lexer (and the server's) ends
    it at a newline, ``\n`` or ``\r`` (the character is whitespace after it)."""
    m = _NEWLINE.search(text, i)
    return n if m is None else m.end()


# psql's tokens around a "$": an identifier ({ident_start}{ident_cont}*, "$" allowed after
# its first character), a number ({decinteger}: digits with single "_" between), a
# parameter ("$" digits); a number or parameter followed by an identifier is one "junk"
# token that runs on through every identifier character, "$" included (psqlscan.l)
_IDENT_RUN = re.compile(r"(?:[A-Za-z_0-9$]|[^\x00-\x7f])*")
_IDENT_START = re.compile(r"[A-Za-z_]|[^\x00-\x7f]")
_DECINTEGER = re.compile(r"[0-9](?:_?[0-9])*")
_PARAM = re.compile(r"\$[0-9]+")


def _token_start(text: str, i: int, floor: int) -> int:
    """Where the run of identifier characters just before ``i`` begins (not before
    ``floor``: just after the last token the scanner ended, a quote, a parameter, a lone
    ``$``, where a ``$``-ending token may lie right before)."""
    j = i
    while j > floor and _is_ident(text[j - 1]):
        j -= 1
    return j


def _absorbed(text: str, j: int, i: int) -> bool:
    """The ``$`` at ``i`` continues the token ``text[j:i]`` before it: an identifier
    (``x$$``) or a number followed by an identifier (``1e$$``, psql's "junk"); after a
    bare number (``1$$``) or nothing, it starts a token of its own."""
    if j == i:
        return False
    if not ("0" <= text[j] <= "9"):
        return True  # an identifier: "$" is one of its characters
    m = _DECINTEGER.match(text, j)
    assert m is not None
    return m.end() < i  # a letter or "_" after the number: junk, which takes the "$" too


# a quote ending a string may be continued by another after whitespace holding a newline
# (SQL's 'a'\n'b'): the second part is lexed in the state of the first. psql lexes line by
# line and never sees the newline between two lines (\n here), so only a "\r" within a
# line can continue a string there
_CONTINUE = re.compile(r"(?:[ \t\f\v]|--[^\n\r]*)*\r(?:[ \t\f\v\r]+|--[^\n\r]*\r)*'")
# a word between the characters the scanner stops at (never a "$": see _absorbed): a number
# (never an identifier, nor the letters after it: "1end") or an identifier
_WORD = re.compile(r"[0-9](?:[A-Za-z_0-9]|[^\x00-\x7f])*|((?:[A-Za-z_]|[^\x00-\x7f])(?:[A-Za-z_0-9]|[^\x00-\x7f])*)")
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
        # psql's identifiers[4]: at position k the first letter of the k-th identifier when it
        # is CREATE, OR, REPLACE, FUNCTION or PROCEDURE; cleared when a statement starts, not by
        # \\; (which counts from 0 again: later words write over the earlier marks)
        self.marks = "\0\0\0\0"
        self.depth = 0

    def copy(self) -> "_Block":
        other = _Block()
        other.count, other.marks, other.depth = self.count, self.marks, self.depth
        return other

    def done(self) -> bool:
        """No identifier matters any more: not a CREATE FUNCTION/PROCEDURE."""
        return self.count >= 4 and not self.create

    def words(self, text: str, a: int, b: int, parens: int) -> None:
        """The identifiers of ``text[a:b]``, a stretch without quotes, comments or ``$``
        (an identifier that runs into a ``$`` at ``b`` is counted by the scanner, whole)."""
        if parens or self.done():
            return  # (no block to follow, and no cost)
        for m in _WORD.finditer(text, a, b):
            if m.group(1) is None:
                continue  # a number, with any letters after it ("1end"): not an identifier
            e = m.end()
            if e == b and b < len(text) and text[b] == "$":
                return  # continued by the "$": the scanner counts it whole
            if e - m.start() == 1 and e < len(text) and (
                    (text[e] == "'" and text[m.start()] in "eEbBxXnN") or (text[e] == "&" and text[m.start()] in "uU")):
                continue  # E'…', B'…', X'…', N'…', U&'…' / U&"…": a string's prefix, not an identifier
            self.word(m.group(1).lower(), parens)
            if self.done():
                return

    def word(self, word: str, parens: int) -> None:
        """One identifier (lower case), as psql's lexer counts it: outside parentheses only."""
        if parens or self.done():
            return
        if self.count < 4 and word in _CREATE_WORDS:
            k = self.count
            self.marks = self.marks[:k] + word[0] + self.marks[k + 1:]
        self.count += 1
        if not self.create:
            return
        if word == "begin":
            self.depth += 1
        elif word == "case" and self.depth >= 1:
            self.depth += 1
        elif word == "end" and self.depth > 0:
            self.depth -= 1


class _Identifiers(_Block):
    """Collects the first identifiers of a statement outside parentheses, as psql's lexer
    counts them (for its COPY … FROM STDIN check)."""

    __slots__ = ("found", "limit")

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.found: list[str] = []
        self.limit = limit

    def copy(self) -> "_Identifiers":
        return self

    def done(self) -> bool:
        return len(self.found) >= self.limit

    def word(self, word: str, parens: int) -> None:
        if not parens and not self.done():
            self.found.append(word)


def first_identifiers(sql: str, limit: int, std_strings: bool = True) -> list[str]:
    """The first ``limit`` identifiers of one statement ``sql`` outside parentheses, lower
    case, as psql's lexer sees them (quoted names, strings, comments, numbers are not)."""
    collect = _Identifiers(limit)
    split(sql, resume=Resume(0, 0, collect), std_strings=std_strings)
    return collect.found


def split(text: str, keep_empty: bool = False, strip: bool = True, resume: Resume | None = None, *,
          meta: bool = False, variables: bool = False, std_strings: bool = True, novars_before: int = 0,
          fresh: frozenset[int] | set[int] = frozenset(), start: int = 0) -> Split:
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
    ``fresh``: positions where a token starts whatever precedes it (the edges of a
    variable's value, which psql lexes apart from the text around it): a ``$`` there never
    continues an identifier. ``start``: where the statement being scanned began (after
    the last ``;`` of ``text`` that ended one; ``rest`` begins there).
    """
    statements: list[str] = []
    depth = 0
    i = 0
    n = len(text)
    open_construct: str | None = None
    block = _Block()
    if resume is not None:
        i, depth, block = resume.at, resume.depth, resume.block.copy()
    at = i  # where the construct being scanned began
    floor = i  # a token ends just before this: a "$" or letter from here starts anew
    stop: int | None = None
    inside: tuple[str, object, int] | None = None
    if resume is not None and resume.inside is not None:  # go on in the construct left open
        kind, data, go_on = resume.inside
        if kind == "'":
            assert isinstance(data, int)
            end, go_on = _quote_scan(text, go_on, data)
        elif kind == '"':
            end, go_on = _ident_scan(text, go_on)
        elif kind == "$":
            assert isinstance(data, str)
            end = text.find(data, go_on)
            if end == -1:
                go_on = max(go_on, n - len(data) + 1)
            else:
                end += len(data)
        else:
            assert isinstance(data, int)
            end, data, go_on = _comment_scan(text, data, go_on)
        if end == -1:
            what = {"'": "quoted string", '"': "quoted identifier", "$": "dollar-quoted string"}.get(kind, "comment")
            return Split((), text, what, Resume(at, depth, block, (kind, data, go_on)), None)
        if kind == "'" and end == n:  # (closed at the very end again: still continuable)
            return Split((), text, None, Resume(end - 1, depth, block, (kind, data, end - 1)), None)
        i = floor = end
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
        elif ch == "\x00":  # \\; (see the reader): psql 18 counts the words from 0 again (its
            block = block.copy()  # identifier_count), the marks and the BEGIN … END depth kept
            block.count = 0
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
            # E'…' (and every '…' with standard_conforming_strings off) takes backslash
            # escapes; the letter must start a token of its own (not "_E'…'", "1E'…'")
            # (B'…', X'…' take none; a value's edge in between: no prefix, psql lexes it apart)
            before = text[i - 1] if i > floor and i not in fresh else " "
            starts = i - 1 in fresh or i - 2 < floor or not _is_ident(text[i - 2])  # the letter begins a token
            if before in "eE" and starts:
                mode = _ESCAPES
            elif before in "bBxX" and starts:
                mode = _BITS
            elif before == "&" and i - 2 >= floor and text[i - 2] in "uU" and i - 1 not in fresh and (
                    i - 2 in fresh or i - 3 < floor or not _is_ident(text[i - 3])):
                mode = _PLAIN  # U&'…': a backslash starts a Unicode escape, never escapes a quote
            else:
                mode = _PLAIN if std_strings else _ESCAPES
            end, go_on = _quote_scan(text, i + 1, mode)
            if end == -1:
                open_construct, inside = "quoted string", ("'", mode, go_on)
                break
            if end == n:  # the next line may continue it (see _quote_scan): not in a quote,
                at, inside = end - 1, ("'", mode, end - 1)  # but scanned on from its closing quote
                break
            i = end
        elif ch == '"':
            end, go_on = _ident_scan(text, i + 1)
            if end == -1:
                open_construct, inside = "quoted identifier", ('"', 0, go_on)
                break
            i = end
        elif ch == "$":
            j = i if i in fresh else _token_start(text, i, floor)
            ident = j < i and not ("0" <= text[j] <= "9")
            if _absorbed(text, j, i):  # x$y, x$$, 1e$$: the whole token, every "$" in it
                k = _IDENT_RUN.match(text, i).end()  # type: ignore[union-attr]
                if ident:
                    block.word(text[j:k].lower(), depth)
                i = floor = k
                continue
            if ident:  # (a value's identifier, a "$" after it starting anew)
                block.word(text[j:i].lower(), depth)
            tag = _DOLLAR_TAG.match(text, i)
            if tag is not None and fresh and any(i < p < tag.end() for p in fresh):
                tag = None  # ($a from a value, $ after it: psql lexes the value apart, no tag spans its edge)
            if tag is not None:
                end = text.find(tag.group(0), tag.end())
                if end == -1:
                    go_on = max(tag.end(), n - len(tag.group(0)) + 1)  # (the closing tag may straddle)
                    open_construct, inside = "dollar-quoted string", ("$", tag.group(0), go_on)
                    break
                i = floor = end + len(tag.group(0))
                continue
            param = _PARAM.match(text, i)
            if param is not None:  # $1; $1x$… is one token ("junk") through its last "$"
                k = param.end()
                if _IDENT_START.match(text, k):
                    k = _IDENT_RUN.match(text, k).end()  # type: ignore[union-attr]
                i = floor = k
                continue
            i = floor = i + 1  # a lone "$" ("$x" without a closing "$": the "$" alone)
        elif ch == "-":
            if text.startswith("--", i) and i + 1 not in fresh:
                i = _line_end(text, i, n)
                if fresh:  # a "--" comment in a variable's value ends with the value
                    i = min([i, *(p for p in fresh if p > m.start())])
            else:
                i += 1
        elif ch == "/":
            if text.startswith("/*", i) and i + 1 not in fresh:
                j, nest, go_on = _comment_scan(text, 1, i + 2)
                if j == -1:
                    open_construct, inside = "comment", ("/*", nest, go_on)
                    break
                i = j
            else:
                i += 1
    rest = text[start:]
    if open_construct is None and depth > 0 and rest.strip():
        open_construct = "parenthesis"
    return Split(tuple(statements), rest, open_construct, Resume(at, depth, block, inside), stop)


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
            i = _line_end(sql, i, n)
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
            i = _line_end(text, i, n)
        else:
            break
    return i


def first_keyword(sql: str) -> str:
    head = strip_comments_head(sql)
    m = re.match(r"[A-Za-z]+", head)
    return m.group(0).upper() if m else ""
