"""Text -> typed commands, and the one table of meta-command names, aliases and help.

Pure: no I/O, no database. The shell dispatches a parsed command to the method
``do_<name>`` (as ``cmd.Cmd`` does) of its own or of one of its command groups;
``tests/test_parsing.py`` checks every entry of the table has one.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

from qshell.common.errors import UsageError
from qshell.common.numbers import DECIMAL, INT64_MAX, INT_MAX, MAX_REPEATS, is_whole, whole
from qshell.script.variables import meta_args


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed entry. ``name`` is the canonical meta-command name, or ``sql``."""

    name: str
    arg: str = ""  # the raw argument text (SQL for ``add``/``sql``)
    n: int | None = None  # numeric argument when the command takes one
    args: tuple[str, ...] = ()  # split arguments when the command takes several
    reps: int | None = None  # \go N xR: repetitions
    duration_s: float | None = None  # \go N for DURATION: a sustained load
    rate: float | None = None  # \go N for DURATION at RATE/s: open loop
    extra: tuple[str, ...] = ()  # arguments after those it takes: psql warns of each and goes on
    problem: str = ""  # psql's error of the arguments ("unterminated quoted string"): said, the command runs
    problem_after: bool = False  # the problem is in an extra argument: said after the command, as psql reads those


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    usage: str
    help: str
    parse: Callable[[str, str], Command]
    aliases: tuple[str, ...] = ()
    takes_sql: bool = False  # the argument is SQL through its ';' (may span lines)
    group: str = "General"  # heading in \\?
    modifiers: bool = False  # psql's describe suffixes: \\dt+, \\dtS (system objects too)
    ends_query: bool = False  # sends or clears the statement being typed (psql's query buffer): \\g, \\r
    psql_args: bool = False  # lexes its own arguments by psql's rules (quotes, variables, backquotes)


def _positive(word: str, what: str, cmd: str, most: int = INT_MAX) -> int:
    """A meta-command's count, from 1 to ``most`` (``numbers.whole``: ASCII digits)."""
    try:
        return whole(word, 1, most, what)
    except ValueError as exc:
        raise UsageError(f"\\{cmd}: {exc}, got {word!r}") from None


def _words(arg: str, cmd: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(arg))
    except ValueError as exc:
        raise UsageError(f"\\{cmd}: {exc}") from None


def _no_arg(name: str, arg: str) -> Command:
    if arg.strip():
        raise UsageError(f"\\{name}: takes no argument, got {arg.strip()!r}")
    return Command(name)


def _raw(name: str, arg: str) -> Command:
    return Command(name, arg.strip())


def _add(name: str, arg: str) -> Command:
    sql = arg.strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if not sql:
        raise UsageError("\\add: needs an SQL statement (\\add SELECT ...;)")
    return Command(name, sql)


_DURATION = re.compile(f"({DECIMAL})(ms|s|sec|min|m|h)?")
_RATE = re.compile(f"({DECIMAL})(?:/s)?")
_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
MAX_LOAD_S = 7 * 24 * 3600.0  # a week


def _load(name: str, words: list[str], arg: str) -> Command:
    """``\\go [N] for DURATION [at RATE/s]``: ``words`` from ``for`` on."""
    usage = f"\\{name}: usage \\{name} [N] for DURATION [at RATE/s], e.g. \\{name} 4 for 10s at 50/s"
    at = [i for i, w in enumerate(words) if w.lower() == "at"]
    if len(words) < 2 or (at and (at[0] != 2 or len(words) != 4)) or (not at and len(words) != 2):
        raise UsageError(f"{usage}; got {arg.strip()!r}")
    m = _DURATION.fullmatch(words[1].lower())
    if not m:
        raise UsageError(f"\\{name}: DURATION must look like 10s, 500ms, 2min, got {words[1]!r}")
    seconds = float(m.group(1)) * _SECONDS[m.group(2) or "s"]
    if not 0.001 <= seconds <= MAX_LOAD_S:
        raise UsageError(f"\\{name}: DURATION must be from 1ms to 7 days, got {words[1]!r}")
    rate = None
    if at:
        r = _RATE.fullmatch(words[3].lower())
        if not r or float(r.group(1)) <= 0 or float(r.group(1)) > 100_000:
            raise UsageError(f"\\{name}: RATE must be executions per second, above 0 and at most 100000 (50/s), got {words[3]!r}")
        rate = float(r.group(1))
    return Command(name, arg.strip(), duration_s=seconds, rate=rate)


def _go(name: str, arg: str) -> Command:
    words = list(_words(arg, name))
    fors = [i for i, w in enumerate(words) if w.lower() == "for"]
    if fors:
        if fors[0] > 1:
            raise UsageError(f"\\{name}: takes N before 'for', got {arg.strip()!r}")
        n = _positive(words[0], "N", name) if fors[0] == 1 else None
        return replace(_load(name, words[fors[0]:], arg), n=n)
    reps = None
    if words and words[-1][:1] in "xX" and len(words[-1]) > 1:
        reps = _positive(words.pop()[1:], "R (in xR)", name, MAX_REPEATS)
    if len(words) > 1:
        raise UsageError(f"\\{name}: takes N and an optional xR, got {arg.strip()!r}")
    n = _positive(words[0], "N", name) if words else None  # above the staged count: clipped, said
    return Command(name, words[0] if words else "", n=n, reps=reps)


def _ns(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if not words:
        raise UsageError(f"\\{name}: needs the Ns to run, e.g. \\{name} 1 2 3 5 or \\{name} 1-8")
    return Command(name, arg.strip(), args=words)


def _two(name: str, arg: str) -> Command:
    """Two runs: each a run number (negative: from the latest, -1 the latest) or a run id."""
    words = _words(arg, name)
    if len(words) != 2:
        raise UsageError(f"\\{name}: needs two runs (numbers from \\history, or run ids)")
    for word in words:
        if is_whole(word):
            try:
                whole(word, -INT64_MAX, INT64_MAX, "a run number")
            except ValueError as exc:
                raise UsageError(f"\\{name}: {exc} (-1: the latest run), got {word!r}") from None
    return Command(name, arg.strip(), args=words)


def _optional_count(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if len(words) > 1:
        raise UsageError(f"\\{name}: takes at most one number")
    return Command(name, arg.strip(), n=_positive(words[0], "K", name) if words else None)


def _optional_word(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if len(words) > 1:
        raise UsageError(f"\\{name}: takes at most one argument")
    return Command(name, words[0] if words else "", args=words)


def _sandbox(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if not words or words[0] != "init" or len(words) > 2:
        raise UsageError(f"\\{name}: usage \\sandbox init [SCALE]")
    return Command(name, "init", n=_positive(words[1], "SCALE", name) if len(words) == 2 else None, args=words)


def _index(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if len(words) != 1:
        raise UsageError(f"\\{name}: needs one staged query number (see \\list)")
    return Command(name, words[0], n=_positive(words[0], "K", name))


def _path(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if len(words) != 1:
        raise UsageError(f"\\{name}: needs one file name")
    return Command(name, words[0], args=words)


def _report(name: str, arg: str) -> Command:
    """A file name, then optionally runs of the history (numbers as \\history lists them, or run ids)."""
    words = _words(arg, name)
    if not words:
        raise UsageError(f"\\{name}: needs one file name (then, for runs of the history, their numbers or ids)")
    for word in words[1:]:
        if is_whole(word):
            try:
                whole(word, -INT64_MAX, INT64_MAX, "a run number")
            except ValueError as exc:
                raise UsageError(f"\\{name}: {exc} (-1: the latest run), got {word!r}") from None
    return Command(name, words[0], args=words)


def _one_word(name: str, arg: str) -> Command:
    words = _words(arg, name)
    if len(words) != 1:
        raise UsageError(f"\\{name}: needs one argument")
    return Command(name, words[0], args=words)


def _pattern(name: str, arg: str) -> Command:
    """psql's describe argument: one pattern, double quotes kept (they mean case and
    literal characters to the pattern rules); whitespace inside quotes belongs to it.
    As psql: an unquoted ";" at its end is dropped (``\\dt t;``), the words after it
    are extra (a warning each)."""
    s, out, inquotes = arg.strip(), [], False
    i = 0
    while i < len(s) and (inquotes or not s[i].isspace()):
        inquotes ^= s[i] == '"'
        out.append(s[i])
        i += 1
    if inquotes:  # psql: said, and the command runs without the word (\\d "odd lists every relation)
        return Command(name, "", problem="unterminated quoted string")
    pattern = "".join(out)
    unquoted = len(pattern) - (pattern.rfind('"') + 1)
    while unquoted and pattern.endswith(";"):
        pattern, unquoted = pattern[:-1], unquoted - 1
    rest = meta_args(s[i:], None, take=0)  # the extra words as psql reads them (quotes, an open one)
    return Command(name, pattern, extra=tuple(rest.extra), problem=rest.problem, problem_after=bool(rest.problem))


def _patterns(name: str, arg: str) -> Command:
    """Several describe patterns (\\df NAME TYPE..., \\dAc AM TYPE, \\drds ROLE DB), each
    word read as ``_pattern`` reads one (double quotes kept, whitespace inside them part of
    it): ``args`` is ("", pattern, ...), its first slot for the describe suffixes."""
    s, i = arg.strip(), 0
    words: list[str] = []
    while i < len(s):
        inquotes, start = False, i
        while i < len(s) and (inquotes or not s[i].isspace()):
            inquotes ^= s[i] == '"'
            i += 1
        if inquotes:  # psql: said, the words before it taken
            return Command(name, words[0] if words else "", args=("", *words), problem="unterminated quoted string")
        words.append(s[start:i])
        while i < len(s) and s[i].isspace():
            i += 1
    return Command(name, words[0] if words else "", args=("", *words))


def _two_patterns(name: str, arg: str) -> Command:
    """Two describe patterns at most (\\dAc AM TYPE, \\drds ROLE DB), as psql reads them: the
    words after those are extra (a warning each)."""
    cmd = _patterns(name, arg)
    words = cmd.args[1:]
    return replace(cmd, args=("", *words[:2]), extra=words[2:])


def _spec_file(name: str, arg: str) -> Command:
    """``\\spec FILE.spec``, or ``\\spec save FILE`` / ``\\spec load FILE`` (the interactive
    sessions written as a spec, or a spec's sessions and steps made interactive sessions)."""
    words = _words(arg, name)
    if words and words[0] in ("save", "load"):
        if len(words) != 2:
            raise UsageError(f"\\{name} {words[0]}: needs one file name")
        return Command(f"spec_{words[0]}", words[1], args=words[1:])
    # the file (and ``under LEVELS``): \\spec reads its argument itself, quotes and all
    return Command(name, arg.strip(), args=words)


def _split_args(name: str, arg: str) -> Command:
    return Command(name, arg.strip(), args=_words(arg, name))


def _connect_args(name: str, arg: str) -> Command:
    """\\c's words as psql reads them: DBNAME USER HOST PORT (after an optional
    -reuse-previous=on|off); any more are extra (a warning each, the connection made)."""
    words = _words(arg, name)
    take = 5 if words and words[0].startswith("-reuse-previous=") else 4
    return Command(name, arg.strip(), args=words[:take], extra=words[take:])


TABLE: tuple[Spec, ...] = (
    Spec("add", "\\add SQL;", "stage one statement (it may span lines, ends at ';'); bare \\add stages the next one typed", _add, takes_sql=True, group="Staging"),
    Spec("addfile", "\\addfile FILE", "stage every statement of an SQL file (all or nothing: a file with a meta-command is refused)", _path, group="Staging"),
    Spec("go", "\\go [N] [xR|for D [at R/s]]", "run the staged set at once on N workers (default: staged count, capped by \\set workers); xR: R times, with statistics; for D: over and over for the duration D (at R/s: at a fixed rate), with latency percentiles", _go, group="Running"),
    Spec("sweep", "\\sweep N... | A-B [on TARGET...]", "run the staged set at each N; table of wall, speedup vs N=1, efficiency, bound, the server's cores, the machine's busy share and other processes' CPU, a CPU verdict and a chart; on TARGET...: at each N on each target (conninfo words over this session's, e.g. 'host=db1,db2 load_balance_hosts=random'), one table with the servers each run used", _ns, group="Running"),
    Spec("timeline", "\\timeline", "draw the last run's worker timeline", _no_arg, group="Running"),
    Spec("list", "\\list", "show the staged set, numbered", _no_arg, aliases=("ls",), group="Staging"),
    Spec("drop", "\\drop K", "remove staged query K", _index, group="Staging"),
    Spec("clear", "\\clear", "remove every staged query", _no_arg, group="Staging"),
    Spec("save", "\\save NAME", "save the staged set as NAME.sql in the sets directory", _one_word, group="Staging"),
    Spec("load", "\\load NAME", "stage a saved set (added after the staged ones)", _one_word, group="Staging"),
    Spec("sets", "\\sets", "list the saved sets", _no_arg, group="Staging"),
    Spec("history", "\\history [K]", "list the last K runs (default 20) from the run history", _optional_count, group="Running"),
    Spec("compare", "\\compare A B", "compare two runs of the same set, query by query", _two, group="Running"),
    Spec("report", "\\report FILE.html [RUN...]", "write the last run, sweep, repeat, load or \\compare as one self-contained HTML page (timeline, waits over time, lock graph, charts, tables); RUN...: those runs of the history, in one page", _report, group="Running"),
    Spec("sandbox", "\\sandbox init [SCALE]", "load the pgbench tables into the sandbox (pgbench -i -s SCALE, default 10)", _sandbox, group="Sandbox"),
    Spec("demo", "\\demo", "stage six queries of different cost over the pgbench tables (the seed's experiment)", _no_arg, group="Sandbox"),
    Spec("spec", "\\spec FILE.spec [under LEVELS] | save FILE | load FILE", "run an isolationtester spec file (sessions, steps, permutations) and print exactly what isolationtester prints for it; under LEVELS (e.g. read committed, repeatable read, serializable): its anomaly table; \\spec save FILE: write the \\session steps as one; \\spec load FILE: its sessions and steps as \\session ones", _spec_file, group="Running"),
    Spec("lab", "\\lab [NAME [under LEVELS]]", "list the guided isolation experiments; run one (as \\spec), or print its anomaly table at LEVELS", _raw, group="Running"),
    Spec("session", "\\session [NAME|close [NAME]]", "open or switch to a named session of yours (statements typed run there; the prompt shows it); no NAME: back to your own session; close NAME: close one", _split_args, group="Sessions"),
    Spec("step", "\\step NAME SQL", "record a step of the current named session (not run); \\step setup|teardown SQL: its setup or teardown (on your own session: the spec's, run around each permutation)", _raw, group="Sessions", psql_args=True),
    Spec("steps", "\\steps", "show the recorded sessions and steps (as \\spec save writes them)", _no_arg, group="Sessions"),
    Spec("sessions", "\\sessions", "list the sessions: backend pid, transaction state (idle, in transaction, failed, waiting), steps", _no_arg, group="Sessions"),
    Spec("permute", "\\permute [STEP...] [under LEVELS]", "run those recorded steps in that order on the live sessions, blocking shown as isolationtester shows it (annotations: STEP(OTHER), STEP(*)); no STEP: every interleaving; under LEVELS: their anomaly table, on new connections", _raw, group="Sessions", psql_args=True),
    Spec("i", "\\i FILE", "read commands from a file as if typed", _raw, aliases=("include",), group="Input and output", psql_args=True),
    Spec("ir", "\\ir FILE", "as \\i, a relative name taken from the directory of the file being read", _raw, aliases=("include_relative",), group="Input and output", psql_args=True),
    Spec("copy", "\\copy ...", "perform SQL COPY with data stream to the client host: \\copy TABLE [(COLUMNS)] | (QUERY) FROM|TO FILE | PROGRAM 'CMD' | STDIN | STDOUT | PSTDIN | PSTDOUT [[WITH] (OPTIONS)]", _raw, group="Input and output", psql_args=True),
    Spec("o", "\\o [FILE|'|'COMMAND]", "send all query results to FILE or |pipe; no argument: back to stdout", _raw, aliases=("out",), group="Input and output", psql_args=True),
    Spec("w", "\\w FILE|'|'COMMAND", "write the statement being typed (or the last one sent) to FILE or |pipe", _raw, aliases=("write",), group="Input and output", psql_args=True),
    Spec("cd", "\\cd [DIR]", "change the current working directory (no DIR: the home directory)", _raw, group="Input and output", psql_args=True),
    Spec("!", "\\! [COMMAND]", "execute COMMAND in the shell, or start an interactive shell; sets SHELL_ERROR and SHELL_EXIT_CODE", _raw, group="Input and output", psql_args=True),
    Spec("setenv", "\\setenv NAME [VALUE]", "set an environment variable (no VALUE: unset it)", _raw, group="Input and output", psql_args=True),
    Spec("getenv", "\\getenv PSQLVAR ENVVAR", "fetch an environment variable into a psql variable", _raw, group="Input and output", psql_args=True),
    Spec("prompt", "\\prompt [TEXT] NAME", "prompt the user (on the terminal) to set a psql variable", _raw, group="Input and output", psql_args=True),
    Spec("x", "\\x [on|off|auto]", "expanded display (one column per line); no argument toggles", _raw, aliases=("expanded",), group="Display", psql_args=True),
    Spec("pset", "\\pset [NAME [VALUE]]", "psql's print options (format aligned|unaligned|csv|html|asciidoc|latex|latex-longtable|troff-ms, border, tuples_only, fieldsep, recordsep, title, footer, null, expanded, csv_fieldsep...); no NAME lists them, NAME alone toggles or shows", _raw, group="Display", psql_args=True),
    Spec("a", "\\a", "toggle between unaligned and aligned output (psql's \\pset format)", _raw, group="Display", psql_args=True),
    Spec("t", "\\t [on|off]", "tuples only: rows without header or footer; no argument toggles", _raw, group="Display", psql_args=True),
    Spec("f", "\\f [SEP]", "the field separator of unaligned output (no SEP: show it)", _raw, group="Display", psql_args=True),
    Spec("C", "\\C [TITLE]", "a title printed above tables (no TITLE: unset)", _raw, group="Display", psql_args=True),
    Spec("H", "\\H", "toggle between psql's HTML output and aligned", _raw, group="Display", psql_args=True),
    Spec("T", "\\T [ATTRIBUTES]", "the HTML table tag's attributes (psql's tableattr; latex-longtable: column widths)", _raw, group="Display", psql_args=True),
    Spec("pager", "\\pager [on|off]", "page long output through $PAGER (less -SRXF); no argument toggles", _optional_word, group="Display"),
    Spec("e", "\\e [K]", "edit the statement being typed (or the last one) in $EDITOR; \\e K edits staged query K in place", _optional_count, aliases=("edit",), group="Staging"),
    Spec("format", "\\format FMT", "table format: any tabulate format, or csv, json", _one_word, group="Display"),
    Spec("set", "\\set [NAME [VALUE...]]", "a qshell setting (workers, maxrows, format, tx, isolation, order, timeline...), else a psql variable (:NAME); no NAME lists both", _raw, group="Variables", psql_args=True),
    Spec("d", "\\d[S+] [PATTERN]", "list relations, or describe each one matching (columns, indexes, constraints, ...)", _pattern, group="Database", modifiers=True),
    Spec("dt", "\\dt[S+] [PATTERN]", "list tables (psql's patterns: schema.name, * and ?, \"Quoted\")", _pattern, group="Database", modifiers=True),
    Spec("di", "\\di[S+] [PATTERN]", "list indexes", _pattern, group="Database", modifiers=True),
    Spec("dv", "\\dv[S+] [PATTERN]", "list views", _pattern, group="Database", modifiers=True),
    Spec("dm", "\\dm[S+] [PATTERN]", "list materialized views", _pattern, group="Database", modifiers=True),
    Spec("ds", "\\ds[S+] [PATTERN]", "list sequences", _pattern, group="Database", modifiers=True),
    Spec("df", "\\df[S+] [PATTERN [TYPE...]]", "list functions (by name, then argument types)", _patterns, group="Database", modifiers=True),
    Spec("dfa", "\\dfa[S+] [PATTERN [TYPE...]]", "list aggregate functions", _patterns, group="Database", modifiers=True),
    Spec("dfn", "\\dfn[S+] [PATTERN [TYPE...]]", "list normal functions", _patterns, group="Database", modifiers=True),
    Spec("dfp", "\\dfp[S+] [PATTERN [TYPE...]]", "list procedures", _patterns, group="Database", modifiers=True),
    Spec("dft", "\\dft[S+] [PATTERN [TYPE...]]", "list trigger functions", _patterns, group="Database", modifiers=True),
    Spec("dfw", "\\dfw[S+] [PATTERN [TYPE...]]", "list window functions", _patterns, group="Database", modifiers=True),
    Spec("dn", "\\dn[S+] [PATTERN]", "list schemas", _pattern, group="Database", modifiers=True),
    Spec("du", "\\du[S+] [PATTERN]", "list roles", _pattern, group="Database", modifiers=True),
    Spec("dx", "\\dx[+] [PATTERN]", "list extensions (+: their objects)", _pattern, group="Database", modifiers=True),
    Spec("dE", "\\dE[S+] [PATTERN]", "list foreign tables", _pattern, group="Database", modifiers=True),
    Spec("dT", "\\dT[S+] [PATTERN]", "list data types", _pattern, group="Database", modifiers=True),
    Spec("dD", "\\dD[S+] [PATTERN]", "list domains", _pattern, group="Database", modifiers=True),
    Spec("dp", "\\dp[S] [PATTERN]", "list table, view and sequence access privileges", _pattern, group="Database", modifiers=True),
    Spec("z", "\\z[S] [PATTERN]", "same as \\dp", _pattern, group="Database", modifiers=True),
    Spec("ddp", "\\ddp [PATTERN]", "list default privileges", _pattern, group="Database", modifiers=True),
    Spec("dg", "\\dg[S+] [PATTERN]", "list roles (as \\du)", _pattern, group="Database", modifiers=True),
    Spec("dconfig", "\\dconfig[+] [PATTERN]", "list configuration parameters (without a pattern: those not at their default)", _pattern, group="Database", modifiers=True),
    Spec("des", "\\des[+] [PATTERN]", "list foreign servers", _pattern, group="Database", modifiers=True),
    Spec("dew", "\\dew[+] [PATTERN]", "list foreign-data wrappers", _pattern, group="Database", modifiers=True),
    Spec("det", "\\det[+] [PATTERN]", "list foreign tables (with their server)", _pattern, group="Database", modifiers=True),
    Spec("deu", "\\deu[+] [PATTERN]", "list user mappings", _pattern, group="Database", modifiers=True),
    Spec("dP", "\\dP[S+] [PATTERN]", "list partitioned relations", _pattern, group="Database", modifiers=True),
    Spec("dPn", "\\dPn[S+] [PATTERN]", "list partitioned relations, nested ones too", _pattern, group="Database", modifiers=True),
    Spec("dPi", "\\dPi[S+] [PATTERN]", "list partitioned indexes", _pattern, group="Database", modifiers=True),
    Spec("dPt", "\\dPt[S+] [PATTERN]", "list partitioned tables", _pattern, group="Database", modifiers=True),
    Spec("dX", "\\dX [PATTERN]", "list extended statistics", _pattern, group="Database", modifiers=True),
    Spec("dRp", "\\dRp[+] [PATTERN]", "list publications (+: each one's tables and schemas)", _pattern, group="Database", modifiers=True),
    Spec("dRs", "\\dRs[+] [PATTERN]", "list subscriptions", _pattern, group="Database", modifiers=True),
    Spec("dy", "\\dy[+] [PATTERN]", "list event triggers", _pattern, group="Database", modifiers=True),
    Spec("do", "\\do[S+] [OPPTRN [TYPE [TYPE]]]", "list operators", _patterns, group="Database", modifiers=True),
    Spec("dc", "\\dc[S+] [PATTERN]", "list conversions", _pattern, group="Database", modifiers=True),
    Spec("dC", "\\dC[+] [PATTERN]", "list casts", _pattern, group="Database", modifiers=True),
    Spec("dd", "\\dd[S] [PATTERN]", "show object descriptions not displayed elsewhere", _pattern, group="Database", modifiers=True),
    Spec("dL", "\\dL[S+] [PATTERN]", "list procedural languages", _pattern, group="Database", modifiers=True),
    Spec("dO", "\\dO[S+] [PATTERN]", "list collations", _pattern, group="Database", modifiers=True),
    Spec("dF", "\\dF[+] [PATTERN]", "list text search configurations", _pattern, group="Database", modifiers=True),
    Spec("dFd", "\\dFd[+] [PATTERN]", "list text search dictionaries", _pattern, group="Database", modifiers=True),
    Spec("dFp", "\\dFp[+] [PATTERN]", "list text search parsers", _pattern, group="Database", modifiers=True),
    Spec("dFt", "\\dFt[+] [PATTERN]", "list text search templates", _pattern, group="Database", modifiers=True),
    Spec("dA", "\\dA[+] [PATTERN]", "list access methods", _pattern, group="Database", modifiers=True),
    Spec("dAc", "\\dAc[+] [AMPTRN [TYPEPTRN]]", "list operator classes", _two_patterns, group="Database", modifiers=True),
    Spec("dAf", "\\dAf[+] [AMPTRN [TYPEPTRN]]", "list operator families", _two_patterns, group="Database", modifiers=True),
    Spec("dAo", "\\dAo[+] [AMPTRN [OPFPTRN]]", "list operators of operator families", _two_patterns, group="Database", modifiers=True),
    Spec("dAp", "\\dAp[+] [AMPTRN [OPFPTRN]]", "list support functions of operator families", _two_patterns, group="Database", modifiers=True),
    Spec("db", "\\db[+] [PATTERN]", "list tablespaces", _pattern, group="Database", modifiers=True),
    Spec("da", "\\da[S] [PATTERN]", "list aggregates", _pattern, group="Database", modifiers=True),
    Spec("drg", "\\drg[S] [PATTERN]", "list role grants", _pattern, group="Database", modifiers=True),
    Spec("dl", "\\dl[+]", "list large objects (as \\lo_list)", _pattern, group="Database", modifiers=True),
    Spec("lo_list", "\\lo_list[x+]", "list large objects (as \\dl)", _raw, group="Large objects", modifiers=True, psql_args=True),
    Spec("lo_import", "\\lo_import FILE [COMMENT]", "FILE (read here, on the client) becomes a large object: its OID is said and set as LASTOID", _raw, group="Large objects", psql_args=True),
    Spec("lo_export", "\\lo_export OID FILE", "write large object OID to FILE (on the client)", _raw, group="Large objects", psql_args=True),
    Spec("lo_unlink", "\\lo_unlink OID", "remove large object OID", _raw, group="Large objects", psql_args=True),
    Spec("sf", "\\sf[+] FUNCNAME", "show a function's definition (+: with line numbers)", _raw, group="Database", modifiers=True),
    Spec("sv", "\\sv[+] VIEWNAME", "show a view's definition (+: with line numbers)", _raw, group="Database", modifiers=True),
    Spec("ef", "\\ef [FUNCNAME [LINE]]", "edit a function's definition in $EDITOR; it comes back at the prompt to run", _raw, group="Database"),
    Spec("ev", "\\ev [VIEWNAME [LINE]]", "edit a view's definition in $EDITOR; it comes back at the prompt to run", _raw, group="Database"),
    Spec("drds", "\\drds [ROLEPTRN [DBPTRN]]", "list per-database role settings", _two_patterns, group="Database", modifiers=True),
    Spec("l", "\\l[+] [PATTERN]", "list databases", _pattern, aliases=("list-databases",), group="Database", modifiers=True),
    Spec("timing", "\\timing [on|off]", "show how long each plain statement took; no argument toggles", _raw, group="Display", psql_args=True),
    Spec("c", "\\c [DBNAME [USER [HOST [PORT]]]]", "connect again, as psql's \\connect ('-' keeps a part; or one conninfo / URI)", _connect_args, aliases=("connect",), group="Database"),
    Spec("conninfo", "\\conninfo", "show psql 18's table of the connection: database, user, host or socket, port, options, protocol, password or GSSAPI used, backend pid, SSL, superuser, hot standby", _raw, group="Database", psql_args=True),
    Spec("password", "\\password [USER]", "change a role's password (yours by default): asked twice on the terminal, sent as the SCRAM verifier computed here (libpq's PQchangePassword), never in clear", _raw, group="Database", psql_args=True),
    Spec("encoding", "\\encoding [ENCODING]", "show or set the client encoding (as psql: libpq's set client_encoding; :ENCODING follows)", _raw, group="Database", psql_args=True),
    Spec("echo", "\\echo [-n] TEXT...", "print TEXT (psql's quoting and :variables; -n: no newline)", _raw, group="Input and output", psql_args=True),
    Spec("qecho", "\\qecho [-n] TEXT...", "as \\echo, to the query output (stdout)", _raw, group="Input and output", psql_args=True),
    Spec("warn", "\\warn [-n] TEXT...", "print TEXT on stderr", _raw, group="Input and output", psql_args=True),
    Spec("g", "\\g [FILE|'|'COMMAND]", "run the statement being typed (or the last one again); its result to FILE or a pipe", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("gx", "\\gx [FILE|'|'COMMAND]", "as \\g, in expanded display", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("gset", "\\gset [PREFIX]", "run it; its one row's columns become variables PREFIXcolumn", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("gexec", "\\gexec", "run it; then run each value of its result as a statement", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("watch", "\\watch [[i=]SEC] [c=N] [m=MIN]", "run the statement being typed (or the last one) every SEC seconds (default WATCH_INTERVAL, 2), each result under psql's header; c=N: N times; m=MIN: until a result has fewer than MIN rows; Ctrl-C ends it", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("p", "\\p", "show the statement being typed (or the last one sent)", _raw, aliases=("print",), group="Query buffer", psql_args=True),
    Spec("r", "\\r", "clear the statement being typed", _raw, aliases=("reset",), group="Query buffer", ends_query=True, psql_args=True),
    Spec("bind", "\\bind [PARAM]...", "send the next statement with these parameters ($1, $2 ...: the extended protocol, unnamed statement)", _raw, group="Query buffer", psql_args=True),
    Spec("bind_named", "\\bind_named NAME [PARAM]...", "run prepared statement NAME with these parameters at the next \\g or ;", _raw, group="Query buffer", psql_args=True),
    Spec("parse", "\\parse NAME", "prepare the statement being typed as NAME (the extended protocol's Parse)", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("close_prepared", "\\close_prepared NAME", "close prepared statement NAME (the extended protocol's Close)", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("gdesc", "\\gdesc", "describe the result of the statement being typed (its columns' names and types) without running it", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("crosstabview", "\\crosstabview [COLV [COLH [COLD [SORTCOLH]]]]", "run the statement being typed; show its rows pivoted: COLV's values down, COLH's across, COLD's in the cells", _raw, group="Query buffer", ends_query=True, psql_args=True),
    Spec("startpipeline", "\\startpipeline", "enter pipeline mode: statements are queued, results read later", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("sendpipeline", "\\sendpipeline", "append the statement being typed (after \\bind or \\bind_named) to the pipeline", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("syncpipeline", "\\syncpipeline", "add a synchronisation point to the pipeline", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("flushrequest", "\\flushrequest", "ask the server to send the pipeline's results so far", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("flush", "\\flush", "push what the pipeline holds to the server", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("getresults", "\\getresults [N]", "read and print N of the pipeline's available results (all when none)", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("endpipeline", "\\endpipeline", "end pipeline mode: sync, read and print every result", _raw, group="Pipelines", ends_query=True, psql_args=True),
    Spec("restrict", "\\restrict KEY", "allow no meta-command but \\unrestrict KEY (as pg_dump's scripts begin)", _raw, group="Variables", psql_args=True),
    Spec("unrestrict", "\\unrestrict KEY", "leave restricted mode", _raw, group="Variables", psql_args=True),
    Spec("unset", "\\unset NAME", "delete a variable", _raw, group="Variables", psql_args=True),
    Spec("if", "\\if EXPR", "begin a conditional block (also \\elif EXPR, \\else, \\endif); EXPR a psql boolean: true/false, on/off, 1/0, :{?name}", _raw, group="Variables", psql_args=True),
    Spec("elif", "\\elif EXPR", "another branch of \\if", _raw, group="Variables", psql_args=True),
    Spec("else", "\\else", "the last branch of \\if", _raw, group="Variables", psql_args=True),
    Spec("endif", "\\endif", "end a conditional block", _raw, group="Variables", psql_args=True),
    Spec("errverbose", "\\errverbose", "show the most recent server error at maximum verbosity", _raw, group="General", psql_args=True),
    Spec("h", "\\h [NAME]", "psql's help on an SQL command: its synopsis and the URL of its page (from psql itself); no NAME: the list of commands", _raw, aliases=("help",), psql_args=True),
    Spec("s", "\\s [FILE]", "print the command history (at the prompt: this session's and the history file's), or write it to FILE", _raw, group="Input and output", psql_args=True),
    Spec("copyright", "\\copyright", "PostgreSQL's usage and distribution terms (as psql prints them)", _raw, psql_args=True),
    Spec("commands", "\\?", "this help (qshell's and psql's commands)", _raw, aliases=("?",), psql_args=True),
    Spec("q", "\\q", "quit", _raw, aliases=("quit",), psql_args=True),
)

BY_NAME: dict[str, Spec] = {}
for _spec in TABLE:
    BY_NAME[_spec.name] = _spec
    for _alias in _spec.aliases:
        BY_NAME[_alias] = _spec

SQL_TAKING = frozenset(name for name, spec in BY_NAME.items() if spec.takes_sql)


_PSQL_SPACE = " \t\n\r\f\v"  # psql's whitespace: a name ends there (U+00A0 is part of it)
_NAME_WORD = re.compile(r"[^ \t\n\r\f\v]*")


def meta_name(line: str) -> str:
    """The meta-command word of a line starting with a backslash ('' otherwise)."""
    s = line.lstrip(_PSQL_SPACE)
    if not s.startswith("\\"):
        return ""
    word = _NAME_WORD.match(s, 1).group()  # type: ignore[union-attr]  # (always matches)
    cut = word.find("\\")  # \\x\\g: two commands, as psql reads them (\\\\: a command named '')
    return word if cut == -1 else word[:cut]


def lookup(word: str) -> tuple[Spec | None, str]:
    """The command a meta-command word names (None: no such command), and its psql
    describe suffixes (``dt+`` → \\dt, "+"; ``x``: expanded display for that command, as psql 18)."""
    spec = BY_NAME.get(word)
    if spec is not None:
        return spec, ""
    if word.lower() == "copy":  # psql takes \\copy in any case
        return BY_NAME["copy"], ""
    combined = re.fullmatch(r"d([tivmsE]{2,})([+Sx]*)", word)
    if combined and len(set(combined.group(1))) == len(combined.group(1)):  # \\dti: tables and indexes
        return BY_NAME["dt"], combined.group(1) + combined.group(2)
    for cut in range(len(word) - 1, 0, -1):  # the longest name whose suffix is all modifiers (\\dx+x: \\dx)
        suffix = word[cut:]
        if suffix.strip("+Sx"):
            break
        base = BY_NAME.get(word[:cut])
        if base is not None and base.modifiers:
            return base, suffix
    return None, ""


@lru_cache(maxsize=1024)
def parse(text: str) -> Command:
    """Parse one complete entry: a meta-command line (with its SQL for \\add) or SQL.

    Raises UsageError for an unknown command or a bad argument. Cached per text (a
    Command is immutable and parsing reads nothing but the text: a script staging one
    statement many times parses it once).
    """
    s = text.strip()
    if not s.startswith("\\"):
        return Command("sql", text)  # exactly what the server is sent, its ";" included, as psql

    word = meta_name(s)
    spec, mods = lookup(word)
    if spec is None:
        raise UsageError(f"invalid command \\{word}")  # (at the prompt the shell adds psql's "Try \\? for help.")
    arg = s[1 + len(word):]
    cmd = spec.parse(spec.name, arg)
    return replace(cmd, args=(mods, *cmd.args[1:])) if mods else cmd


def help_text() -> str:
    """\\? : the table, grouped under headings in the order the groups first appear."""
    width = max(len(spec.usage) for spec in TABLE)
    order = list(dict.fromkeys(spec.group for spec in TABLE))
    lines: list[str] = []
    for group in order:
        lines.append(f"{group}:" if not lines else f"\n{group}:")
        lines.extend(f"  {spec.usage.ljust(width)}  {spec.help}" for spec in TABLE if spec.group == group)
        if group == "Staging":
            lines.append(f"  {'SQL;'.ljust(width)}  run one statement now on one connection, print its result")
    return "\n".join(lines)
