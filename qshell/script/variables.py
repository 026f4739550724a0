"""psql's variables: the store, its boolean rules, and the lexing of meta-command arguments.

Pure (no I/O but a backquoted shell command, no database): the reader interpolates
``:name`` in SQL with ``Variables``; the shell lexes meta-command arguments with
``meta_words`` (psql's ``OT_NORMAL`` rules) and ``interpolate``.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

# psql's variable_char: ASCII letters, digits, "_" and any non-ASCII character
NAME = r"(?:[A-Za-z0-9_]|[^\x00-\x7f])+"
_NAME = re.compile(NAME)
# :name, :'name', :"name", :{?name}, as psql's lexer takes them (":" + one of these)
REFERENCE = re.compile(rf":(?:'({NAME})'|\"({NAME})\"|\{{\?({NAME})\}}|({NAME}))")


def valid_name(name: str) -> bool:
    """psql's rule for a variable name (\\set 1x is fine, \\set a-b is not)."""
    return _NAME.fullmatch(name) is not None


def parse_bool(value: str) -> bool | None:
    """psql's ParseVariableBool: a case-insensitive prefix of true/false/yes/no, at
    least two letters of on/off, 1 or 0; None for anything else."""
    v = value.strip().lower()
    if not v:
        return None
    if "true".startswith(v) or "yes".startswith(v):
        return True
    if "false".startswith(v) or "no".startswith(v):
        return False
    if len(v) >= 2 and "on".startswith(v):
        return True
    if len(v) >= 2 and "off".startswith(v):
        return False
    return {"1": True, "0": False}.get(v)


def quote_literal(value: str) -> str:
    """libpq's PQescapeLiteral, which psql uses for ``:'name'``: ``'it''s'``; a value
    with a backslash becomes `` E'a\\\\b'`` (with the leading space)."""
    body = value.replace("'", "''")
    if "\\" in value:
        return " E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def quote_ident(value: str) -> str:
    """libpq's PQescapeIdentifier, for ``:"name"``."""
    return '"' + value.replace('"', '""') + '"'


@dataclass
class Variables:
    """The variables of one qshell, as psql's: set by ``\\set``, ``-v``, ``\\gset`` and by
    qshell itself (DBNAME, USER, ERROR, ROW_COUNT...). Names are case-sensitive."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        """Set ``name``; a value ends at a NUL, as psql's C strings end there (a value
        can then never hold the byte the reader keeps ``\\;`` as)."""
        self.values[name] = value.split("\x00", 1)[0]

    def unset(self, name: str) -> None:
        self.values.pop(name, None)

    def is_on(self, name: str) -> bool:
        return parse_bool(self.values.get(name, "")) is True

    def reference(self, m: re.Match[str]) -> str | None:
        """The text a ``REFERENCE`` match stands for; None where psql leaves it as typed
        (an unknown variable)."""
        literal, ident, test, plain = m.groups()
        if test is not None:
            return "TRUE" if test in self.values else "FALSE"
        name = literal or ident or plain
        value = self.values.get(name)
        if value is None:
            return None
        if literal is not None:
            return quote_literal(value)
        if ident is not None:
            return quote_ident(value)
        return value


_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "r": "\r", "f": "\f"}
_OCTAL = re.compile(r"[0-7]{1,3}")
_HEX = re.compile(r"x([0-9A-Fa-f]{1,2})")


# psql's boolean special variables: set with no value they are "on", unset "off", anything
# but a boolean is refused (psql's bool_substitute_hook)
BOOL_SPECIALS = frozenset({"AUTOCOMMIT", "ON_ERROR_STOP", "QUIET", "SINGLELINE", "SINGLESTEP", "HIDE_TABLEAM",
                           "HIDE_TOAST_COMPRESSION", "SHOW_ALL_RESULTS"})
ECHO_VALUES = ("none", "errors", "queries", "all")
HISTCONTROL_VALUES = ("none", "ignorespace", "ignoredups", "ignoreboth")


_STRTOD = re.compile(r"[ \t\n\r\f\v]*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*"
                     r"|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE)
WATCH_INTERVAL_MAX = 1000000.0  # psql's DEFAULT_WATCH_INTERVAL_MAX


def strtod(text: str) -> float | None:
    """``text`` as C's strtod reads a whole word (decimal, hex, inf, nan), else None."""
    if not _STRTOD.fullmatch(text):
        return None
    body = text.strip(" \t\n\r\f\v")
    sign, digits = (-1.0, body[1:]) if body[:1] == "-" else (1.0, body.lstrip("+"))
    return sign * (float.fromhex(digits) if digits[:2].lower() == "0x" else float(digits))


def _watch_interval(value: str) -> None:
    """psql's check of ``\\set WATCH_INTERVAL`` (ParseVariableDouble from 0 to 1000000)."""
    if value == "":
        raise MetaArgError('invalid input syntax for variable "WATCH_INTERVAL"')
    number = strtod(value)
    if number is None:
        raise MetaArgError(f'invalid value "{value}" for variable "WATCH_INTERVAL"')
    if number < 0:
        raise MetaArgError(f'invalid value "{value}" for variable "WATCH_INTERVAL": must be greater than 0.00')
    if not number <= WATCH_INTERVAL_MAX:
        raise MetaArgError(f'invalid value "{value}" for variable "WATCH_INTERVAL": must be less than 1000000.00')


# psql's special variables that take one of some words (any case, kept as typed); those
# that take a boolean too are "on" when set with no value (psql's hooks in startup.c)
ENUM_SPECIALS: dict[str, tuple[tuple[str, ...], bool]] = {
    "ECHO": (ECHO_VALUES, False),
    "ECHO_HIDDEN": (("noexec",), True),
    "ON_ERROR_ROLLBACK": (("interactive",), True),
    "VERBOSITY": (("default", "verbose", "terse", "sqlstate"), False),
    "SHOW_CONTEXT": (("never", "errors", "always"), False),
    "COMP_KEYWORD_CASE": (("lower", "upper", "preserve-lower", "preserve-upper"), False),
    "HISTCONTROL": (("none", "ignorespace", "ignoredups", "ignoreboth"), False),
}
INT_SPECIALS = frozenset({"FETCH_COUNT"})
_INT_MIN, _INT_MAX = -2**31, 2**31 - 1
_STRTOL = re.compile(r"[ \t\n\r\f\v]*([+-]?)(0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*)")


def parse_int(value: str) -> int | None:
    """psql's ParseVariableNum: C's strtol in base 0 (``0x10`` is 16, ``010`` is 8, leading
    whitespace and a sign allowed) over the whole value, within an int; None otherwise."""
    m = _STRTOL.fullmatch(value)
    if m is None:
        return None
    digits = m.group(2)
    number = int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits, 8) if digits.startswith("0") else int(digits)
    number = -number if m.group(1) == "-" else number
    return number if _INT_MIN <= number <= _INT_MAX else None


def enum_value(name: str, value: str) -> str | None:
    """The value of enum special ``name`` as psql reads it: its word (lower case), "on" or
    "off" for a boolean where it takes one; None for anything else."""
    words, takes_bool = ENUM_SPECIALS[name]
    if value.lower() in words:
        return value.lower()
    if takes_bool:
        flag = parse_bool(value)
        if flag is not None:
            return "on" if flag else "off"
    return None


def special_value(name: str, value: str) -> str:
    """What psql stores for special variable ``name`` set to ``value``; MetaArgError, with
    psql's message, for a value psql refuses."""
    if name in BOOL_SPECIALS or (name in ENUM_SPECIALS and ENUM_SPECIALS[name][1]):
        if value == "":
            return "on"
    if name in BOOL_SPECIALS:
        if parse_bool(value) is None:
            raise MetaArgError(f'unrecognized value "{value}" for "{name}": Boolean expected')
    elif name in ENUM_SPECIALS:
        if enum_value(name, value) is None:
            words, takes_bool = ENUM_SPECIALS[name]
            listed = ", ".join(("on", "off", *words) if takes_bool else words)
            raise MetaArgError(f'unrecognized value "{value}" for "{name}"\nAvailable values are: {listed}.')
    elif name == "WATCH_INTERVAL":
        _watch_interval(value)
    elif name == "HISTSIZE" and not (re.fullmatch(r"[ \t\n\r\f\v]*[+-]?\d+", value) and -2**31 <= int(value) < 2**31):
        raise MetaArgError(f'invalid value "{value}" for "HISTSIZE": integer expected')
    elif name in INT_SPECIALS and parse_int(value) is None:
        raise MetaArgError(f'invalid value "{value}" for "{name}": integer expected')
    return value


# psql's variables that exist from the start (\\set lists them; :{?ON_ERROR_STOP} is TRUE);
# of these qshell honours ECHO, QUIET and ON_ERROR_STOP (the on_error_stop setting)
PSQL_DEFAULTS = {
    "AUTOCOMMIT": "on", "COMP_KEYWORD_CASE": "preserve-upper", "ECHO": "none", "ECHO_HIDDEN": "off",
    "FETCH_COUNT": "0", "HIDE_TABLEAM": "off", "HIDE_TOAST_COMPRESSION": "off", "HISTCONTROL": "none",
    "HISTSIZE": "500", "IGNOREEOF": "0", "LAST_ERROR_MESSAGE": "", "LAST_ERROR_SQLSTATE": "00000",
    "ON_ERROR_ROLLBACK": "off", "ON_ERROR_STOP": "off",
    "PROMPT1": "%/%R%x%# ", "PROMPT2": "%/%R%x%# ", "PROMPT3": ">> ", "QUIET": "off", "SHOW_ALL_RESULTS": "on",
    "SHOW_CONTEXT": "errors", "SINGLELINE": "off", "SINGLESTEP": "off", "VERBOSITY": "default", "WATCH_INTERVAL": "2",
}


_SP = " \t\n\r\f\v"  # what separates arguments for psql (not U+00A0, not U+2028)


class MetaArgError(ValueError):
    """A meta-command argument psql would not take (an unterminated quote)."""


def _single_quoted(text: str, i: int) -> tuple[str, int]:
    """The value of the ``'…'`` opening at ``i`` in a meta-command argument (psql's
    xslashquote: ``''`` is a quote, ``\\n \\t \\b \\r \\f``, octal and ``\\xHH``, any
    other escaped character is itself) and the index after it."""
    out: list[str] = []
    j = i + 1
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == "'":
            if j + 1 < n and text[j + 1] == "'":
                out.append("'")
                j += 2
                continue
            return "".join(out), j + 1
        if ch == "\\" and j + 1 < n:
            nxt = text[j + 1]
            m = _OCTAL.match(text, j + 1)
            h = _HEX.match(text, j + 1)
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                j += 2
            elif m:
                out.append(chr(int(m.group(0), 8)))
                j = m.end()
            elif h:
                out.append(chr(int(h.group(1), 16)))
                j = h.end()
            else:
                out.append(nxt)
                j += 2
            continue
        out.append(ch)
        j += 1
    raise MetaArgError("unterminated quoted string")


_SHELL_REFERENCE = re.compile(rf":(?:'({NAME})'|({NAME}))")


def _backquoted(text: str, i: int, variables: Variables | None) -> tuple[str, int]:
    """The output of the shell command in the backquotes opening at ``i`` (its last
    newline removed, as psql) and the index after it. In the command, as psql does,
    ``:name`` is the value and ``:'name'`` the value quoted for the shell."""
    k = text.find("`", i + 1)
    if k == -1:
        raise MetaArgError("unterminated quoted string")
    command = text[i + 1:k]
    if variables is not None and ":" in command:
        def value(m: re.Match[str]) -> str:
            found = variables.get(m.group(1) or m.group(2))
            if found is None:
                return m.group(0)
            return "'" + found.replace("'", "'\"'\"'") + "'" if m.group(1) else found

        command = _SHELL_REFERENCE.sub(value, command)
    try:
        done = subprocess.run(command, shell=True, capture_output=True, check=False)
    except OSError as exc:
        raise MetaArgError(f"`{command}`: {exc.strerror or exc}") from None
    try:
        out = done.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:  # never sent as U+FFFD: psql's server would refuse these bytes
        raise MetaArgError(f"`{command}`: output is not valid UTF-8 (byte {exc.start + 1})") from None
    return (out[:-1] if out.endswith("\n") else out), k + 1


@dataclass
class MetaArgs:
    """A meta-command's arguments as psql reads them (see ``meta_args``)."""

    words: list[str]  # the arguments the command takes
    extra: list[str]  # the ones after them: psql's "extra argument ... ignored"
    problem: str = ""  # "unterminated quoted string": the arguments ended there


def _meta_word(text: str, i: int, variables: Variables | None, evaluate: bool) -> tuple[str, bool, int, int]:
    """One argument starting at ``i`` (not whitespace), psql's ``OT_NORMAL`` lexing: (its
    value, whether any of it was quoted, how many characters at its end were not, the
    index after it). Raises MetaArgError for a quote left open."""
    word: list[str] = []
    quoted, unquoted, n = False, 0, len(text)
    while i < n and text[i] not in _SP:
        ch = text[i]
        if ch == "'":
            value, i = _single_quoted(text, i)
        elif ch == '"':
            k = text.find('"', i + 1)
            if k == -1:
                raise MetaArgError("unterminated quoted string")
            value, i = text[i:k + 1], k + 1  # kept with its quotes (psql's xslashdquote)
        elif ch == "`":
            if evaluate:
                value, i = _backquoted(text, i, variables)
            else:  # not run where psql does not evaluate (extra arguments): the command's text
                k = text.find("`", i + 1)
                if k == -1:
                    raise MetaArgError("unterminated quoted string")
                value, i = text[i + 1:k], k + 1
        elif ch == ":" and variables is not None and (m := REFERENCE.match(text, i)):
            found = variables.reference(m)
            value, i = (m.group(0) if found is None else found), m.end()
        else:
            word.append(ch)
            unquoted += 1
            i += 1
            continue
        word.append(value)
        quoted, unquoted = True, 0
    return "".join(word).split("\x00", 1)[0], quoted, unquoted, i  # a C string in psql: it ends at a NUL


def meta_args(text: str, variables: Variables | None, take: int | None = None,
              semicolon: bool = False) -> MetaArgs:
    """The arguments of a meta-command as psql reads them: its first ``take`` arguments
    (every one when None) by ``OT_NORMAL`` rules (see ``meta_words``); with
    ``semicolon``, the unquoted ``;`` at the end of each is dropped (``\\x ;`` has no
    argument, ``\\i f.sql;`` reads ``f.sql``), as psql reads most commands' arguments.
    Then what psql reads after a command: the ``extra`` words, with no variable
    replaced and no backquote run. A quote left open ends the arguments: the words
    before it stand, ``problem`` says so (psql reports it and runs the command)."""
    got = MetaArgs([], [])
    i, n, taken = 0, len(text), 0
    while True:
        while i < n and text[i] in _SP:
            i += 1
        if i >= n:
            return got
        taking = take is None or taken < take
        taken += taking
        try:
            word, quoted, unquoted, i = _meta_word(text, i, variables if taking else None, taking)
        except MetaArgError as exc:
            if not str(exc).startswith("unterminated"):
                raise
            got.problem = str(exc)
            return got
        if not taking:
            got.extra.append(word)
            continue
        if semicolon:
            end = len(word)
            while unquoted > 0 and end > 0 and word[end - 1] == ";":
                end, unquoted = end - 1, unquoted - 1
            word = word[:end]
            if not word and not quoted:
                continue  # psql: no argument at all (read all the same: "\\x ; on" warns of "on")
        got.words.append(word)


def meta_words(text: str, variables: Variables | None) -> list[str]:
    """The arguments of a meta-command as psql's ``OT_NORMAL`` lexing gives them:
    separated by whitespace; ``'…'`` unquoted with its escapes; ``"…"`` kept with its
    quotes; backquotes replaced by the command's output; ``:name``, ``:'name'``,
    ``:"name"`` and ``:{?name}`` interpolated (an unknown name stays as typed).
    Raises MetaArgError for an unterminated quote."""
    got = meta_args(text, variables)
    if got.problem:
        raise MetaArgError(got.problem)
    return got.words


def interpolate(text: str, variables: Variables | None) -> str:
    """``text`` with its variable references replaced, outside single and double quotes
    and backquotes: the argument of a qshell meta-command (``\\go :n``), which then parses
    it by its own rules."""
    if variables is None or ":" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            k = text.find(ch, i + 1)
            k = n - 1 if k == -1 else k
            out.append(text[i:k + 1])
            i = k + 1
        elif ch == ":" and (m := REFERENCE.match(text, i)):
            value = variables.reference(m)
            out.append(m.group(0) if value is None else value)
            i = m.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)
