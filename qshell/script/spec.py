"""isolationtester's spec language -> a :class:`Spec` (setup and teardown blocks, sessions
with their steps, permutations with blocker annotations).

A small hand-written scanner and recursive-descent parser that accept what
isolationtester's flex scanner and bison grammar accept, and refuse the rest at the same
token, with isolationtester's wording and line number (``syntax error at line 7``), so a
spec that one runs, the other runs, and the same SQL text is sent: an SQL block is the
text between ``{`` and the first ``}``, without the blanks (not newlines) that follow the
``{`` or precede the ``}``.

Pure: no I/O beyond what the caller hands in, no database.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


class SpecError(Exception):
    """A spec isolationtester would refuse; ``str()`` is its message (without the file)."""


# blocker kinds, as isolationtester names them in the spec: (*), (otherstep), (otherstep notices N)
ONCE = "once"
OTHER_STEP = "step"
NOTICES = "notices"


@dataclass(frozen=True)
class Blocker:
    """One annotation of a permutation step: ``kind`` ONCE (``*``: report it waiting once),
    OTHER_STEP (``name``: not complete while step ``name`` is running) or NOTICES
    (``name notices N``: not complete until ``name``'s session sent N more notices)."""

    kind: str
    step: str = ""
    notices: int = 0

    def __str__(self) -> str:
        if self.kind == ONCE:
            return "*"
        return f"{self.step} notices {self.notices}" if self.kind == NOTICES else self.step


@dataclass(frozen=True)
class Step:
    name: str
    sql: str
    session: int  # index of its session in Spec.sessions
    line: int = field(default=0, compare=False)  # where its name is in the spec


@dataclass(frozen=True)
class Session:
    name: str
    steps: tuple[Step, ...]
    setup: str | None = None
    teardown: str | None = None


@dataclass(frozen=True)
class PermutationStep:
    step: Step
    blockers: tuple[Blocker, ...] = ()

    @property
    def name(self) -> str:
        return self.step.name

    def __str__(self) -> str:
        if not self.blockers:
            return self.name
        return f"{self.name}({', '.join(map(str, self.blockers))})"


@dataclass(frozen=True)
class Permutation:
    steps: tuple[PermutationStep, ...]

    def names(self) -> list[str]:
        return [s.name for s in self.steps]


@dataclass(frozen=True)
class Spec:
    setups: tuple[str, ...]
    teardown: str | None
    sessions: tuple[Session, ...]
    permutations: tuple[Permutation, ...]  # empty: every interleaving (``all_permutations``)
    warnings: tuple[str, ...] = field(default=())  # isolationtester's "unused step name: X" lines

    def steps(self) -> list[Step]:
        return [st for s in self.sessions for st in s.steps]

    def step(self, name: str) -> Step | None:
        for st in self.steps():
            if st.name == name:
                return st
        return None


# -- scanner ---------------------------------------------------------------------------
_KEYWORDS = ("notices", "permutation", "session", "setup", "step", "teardown")
_SPACE = " \t\r\f"  # not the newline: a newline after '{' or before '}' stays in the SQL
_SELF = ",()*"


def _ident_start(c: str) -> bool:
    return ("A" <= c <= "Z") or ("a" <= c <= "z") or c == "_" or ord(c) >= 0x80


def _ident_cont(c: str) -> bool:
    return _ident_start(c) or ("0" <= c <= "9") or c == "$"


@dataclass(frozen=True)
class _Token:
    kind: str  # a keyword, 'identifier', 'sqlblock', 'integer', one of ",()*", or 'eof'
    value: str
    line: int  # the scanner's line count once it has read the token (what isolationtester reports)
    start: int = 0  # the line the token starts on


def _tokens(text: str) -> Iterator[_Token]:
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in _SPACE:
            i += 1
        elif c == "#":
            while i < n and text[i] not in "\n\r":
                i += 1
        elif c == '"':
            start, buf, i = line, [], i + 1
            while True:
                if i >= n:
                    raise SpecError(f"unterminated quoted identifier at line {line}")
                c = text[i]
                if c == "\n":
                    raise SpecError(f"unexpected newline in quoted identifier at line {line}")
                if c == '"':
                    if text.startswith('""', i):
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(c)
                i += 1
            yield _Token("identifier", "".join(buf), line, start)
        elif c == "{":
            start = line
            i += 1
            while i < n and text[i] in _SPACE:
                i += 1
            begin = i
            while True:
                if i >= n:
                    line += text.count("\n", begin, n)
                    raise SpecError(f"unterminated sql block at line {line}")
                if text[i] == "}":
                    break
                i += 1
            line += text.count("\n", begin, i)
            end = i
            while end > begin and text[end - 1] in _SPACE:
                end -= 1
            i += 1
            yield _Token("sqlblock", text[begin:end], line, start)
        elif "0" <= c <= "9":
            j = i
            while j < n and "0" <= text[j] <= "9":
                j += 1
            yield _Token("integer", text[i:j], line, line)
            i = j
        elif c in _SELF:
            yield _Token(c, c, line, line)
            i += 1
        elif _ident_start(c):
            j = i + 1
            while j < n and _ident_cont(text[j]):
                j += 1
            word = text[i:j]
            yield _Token(word if word in _KEYWORDS else "identifier", word, line, line)
            i = j
        else:
            raise SpecError(f'syntax error at line {line}: unexpected character "{c}"')
    yield _Token("eof", "", line, line)


# -- parser ----------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self._it = _tokens(text)
        self.tok = next(self._it)

    def error(self) -> SpecError:
        return SpecError(f"syntax error at line {self.tok.line}")

    def take(self, kind: str) -> _Token:
        if self.tok.kind != kind:
            raise self.error()
        tok = self.tok
        if kind != "eof":
            self.tok = next(self._it)
        return tok

    def spec(self) -> tuple[list[str], str | None, list[tuple[str, str | None, list[tuple[str, str, int]], str | None]],
                            list[list[tuple[str, int, list[Blocker]]]]]:
        setups = []
        while self.tok.kind == "setup":
            self.take("setup")
            setups.append(self.take("sqlblock").value)
        teardown = None
        if self.tok.kind == "teardown":
            self.take("teardown")
            teardown = self.take("sqlblock").value
        sessions = [self.session()]
        while self.tok.kind == "session":
            sessions.append(self.session())
        perms = []
        while self.tok.kind == "permutation":
            perms.append(self.permutation())
        self.take("eof")
        return setups, teardown, sessions, perms

    def session(self) -> tuple[str, str | None, list[tuple[str, str, int]], str | None]:
        self.take("session")
        name = self.take("identifier").value
        setup = None
        if self.tok.kind == "setup":
            self.take("setup")
            setup = self.take("sqlblock").value
        steps = [self.step()]
        while self.tok.kind == "step":
            steps.append(self.step())
        teardown = None
        if self.tok.kind == "teardown":
            self.take("teardown")
            teardown = self.take("sqlblock").value
        return name, setup, steps, teardown

    def step(self) -> tuple[str, str, int]:
        self.take("step")
        name = self.take("identifier")
        return name.value, self.take("sqlblock").value, name.start

    def permutation(self) -> list[tuple[str, int, list[Blocker]]]:
        self.take("permutation")
        steps = [self.permutation_step()]
        while self.tok.kind == "identifier":
            steps.append(self.permutation_step())
        return steps

    def permutation_step(self) -> tuple[str, int, list[Blocker]]:
        name = self.take("identifier")
        blockers: list[Blocker] = []
        if self.tok.kind == "(":
            self.take("(")
            blockers.append(self.blocker())
            while self.tok.kind == ",":
                self.take(",")
                blockers.append(self.blocker())
            self.take(")")
        return name.value, name.start, blockers

    def blocker(self) -> Blocker:
        if self.tok.kind == "*":
            self.take("*")
            return Blocker(ONCE)
        name = self.take("identifier").value
        if self.tok.kind == "notices":
            self.take("notices")
            count = self.take("integer").value
            return Blocker(NOTICES, name, _atoi(count))
        return Blocker(OTHER_STEP, name)


def _atoi(digits: str) -> int:
    """C's atoi of a run of digits: wraps as a 32-bit int does on the machines PG runs on."""
    value = int(digits) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _c_order(name: str) -> bytes:
    """strcmp's order (bytes), which isolationtester sorts step names by."""
    return name.encode("utf-8", "surrogateescape")


def parse(text: str) -> Spec:
    """The spec in ``text``, checked as isolationtester checks it (duplicate and undefined
    step names, blockers on a step of the same session); ``SpecError`` with its message."""
    setups, teardown, raw_sessions, raw_perms = _Parser(text).spec()
    sessions = []
    for index, (name, setup, steps, s_teardown) in enumerate(raw_sessions):
        sessions.append(Session(name, tuple(Step(sn, sql, index, line) for sn, sql, line in steps), setup, s_teardown))
    everything = sorted((st for s in sessions for st in s.steps), key=lambda st: _c_order(st.name))
    for earlier, later in zip(everything, everything[1:], strict=False):
        if earlier.name == later.name:
            raise SpecError(f"duplicate step name: {later.name}")
    by_name = {st.name: st for st in everything}
    used: set[str] = set()
    permutations = []
    for raw in raw_perms:
        psteps = []
        for name, _line, _blockers in raw:
            st = by_name.get(name)
            if st is None:
                raise SpecError(f'undefined step "{name}" specified in permutation')
            used.add(name)
            psteps.append(st)
        in_this = [name for name, _l, _b in raw]
        for (name, _line, blockers), st in zip(raw, psteps, strict=True):
            for b in blockers:
                if b.kind == ONCE:
                    continue
                if b.step not in in_this:
                    raise SpecError(f'undefined blocking step "{b.step}" referenced in permutation step "{name}"')
                if by_name[b.step].session == st.session:
                    raise SpecError(f'permutation step "{name}" cannot block on its own session')
        permutations.append(Permutation(tuple(PermutationStep(st, tuple(bl)) for st, (_n, _l, bl) in zip(psteps, raw, strict=True))))
    warnings = tuple(f"unused step name: {st.name}" for st in everything if permutations and st.name not in used)
    return Spec(tuple(setups), teardown, tuple(sessions), tuple(permutations), warnings)


def all_permutations(spec: Spec) -> Iterator[Permutation]:
    """Every interleaving of the sessions' steps (each session's in its order), in the
    order isolationtester runs them when the spec names none."""
    piles = [0] * len(spec.sessions)
    chosen: list[Step] = []
    total = sum(len(s.steps) for s in spec.sessions)

    def recurse() -> Iterator[Permutation]:
        if len(chosen) == total:
            yield Permutation(tuple(PermutationStep(st) for st in chosen))
            return
        for i, session in enumerate(spec.sessions):
            if piles[i] < len(session.steps):
                chosen.append(session.steps[piles[i]])
                piles[i] += 1
                yield from recurse()
                piles[i] -= 1
                chosen.pop()

    yield from recurse()


def permutations_of(spec: Spec) -> Iterator[Permutation]:
    """The permutations isolationtester runs for ``spec``: those it names, else all."""
    if spec.permutations:
        yield from spec.permutations
    else:
        yield from all_permutations(spec)


def dump(spec: Spec) -> str:
    """``spec`` written back in the spec language (names quoted where they must be)."""
    def ident(name: str) -> str:
        plain = name and _ident_start(name[0]) and all(_ident_cont(c) for c in name) and name not in _KEYWORDS
        return name if plain else '"' + name.replace('"', '""') + '"'

    out = [f"setup {{ {s} }}" for s in spec.setups]
    if spec.teardown is not None:
        out.append(f"teardown {{ {spec.teardown} }}")
    for s in spec.sessions:
        out.append(f"\nsession {ident(s.name)}")
        if s.setup is not None:
            out.append(f"setup {{ {s.setup} }}")
        out.extend(f"step {ident(st.name)} {{ {st.sql} }}" for st in s.steps)
        if s.teardown is not None:
            out.append(f"teardown {{ {s.teardown} }}")
    if spec.permutations:
        out.append("")
    for p in spec.permutations:
        words = []
        for ps in p.steps:
            blockers = [b if b.kind == ONCE else Blocker(b.kind, ident(b.step), b.notices) for b in ps.blockers]
            words.append(ident(ps.name) + (f"({', '.join(map(str, blockers))})" if blockers else ""))
        out.append("permutation " + " ".join(words))
    return "\n".join(out) + "\n"
