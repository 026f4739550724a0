"""Issue 20: qshell's script reader proven against psql itself, on generated scripts.

``tests/difflex.py`` composes each script from fragments where lexers disagree, with
marker INSERTs between and inside them, and runs it through psql and qshell (``-f FILE``
and stdin), each on fresh tables: the markers that landed, their grouping into
transactions and the exit status must be psql's. A few hundred scripts per run, from a
seed printed on failure (``QSHELL_DIFF_SEED``, ``QSHELL_DIFF_COUNT`` override); many
thousands with ``python -m tests.difflex --count 5000``. The fixed cases below are
differences the harness found, shrunk: each a regression test of its own.
"""
from __future__ import annotations

import os
import time

import pytest

from .difflex import Runner, artifact, generate, shrink

# Differences the harness found, shrunk (each named by the psql rule it checks). A case is
# (id, script, files it includes); the script runs from -f FILE and from stdin.
REGRESSIONS: list[tuple[str, bytes, dict[str, bytes]]] = [
    # issue 20, "What was seen"
    ("dash-comment-ends-at-cr", b"SELECT 1 AS x -- note\r, 'abc\n; INSERT INTO m VALUES (1); --' AS y;\n", {}),
    ("cr-only-file", b"INSERT INTO m VALUES (1);\rSELECT 2 -- c\r;\rINSERT INTO m VALUES (3);\r", {}),
    ("param-then-dollar-quote", b"$1$$;INSERT INTO m VALUES(16);$$;", {}),
    ("param-then-tagged-dollar-quote", b"$1$a$ $a$;INSERT INTO m VALUES(4);", {}),
    ("x$end-is-not-end", b"CREATE PROCEDURE p1() LANGUAGE sql BEGIN ATOMIC INSERT INTO m SELECT x$end FROM (SELECT 1 x$end) s; END;"
                         b" CALL p1();\n", {}),
    ("1end-is-not-end", b"CREATE PROCEDURE p1() LANGUAGE sql BEGIN ATOMIC SELECT 1end; INSERT INTO m VALUES (2); END;\n", {}),
    ("nul-ends-a-variable-value", b"\\set n '1\\0; INSERT INTO m VALUES (1)'\nSELECT :n;\n", {}),
    ("bom-skipped", b"\xef\xbb\xbfINSERT INTO m VALUES(1);\n", {}),
    ("bom-alone", b"\xef\xbb\xbf", {}),
    ("from-stdin-in-a-string-is-no-copy", b"SELECT 'COPY c FROM STDIN';\nINSERT INTO m VALUES (1);\n", {}),
    ("inactive-branch-keeps-the-pending-statement", b"INSERT INTO m VALUES (18)\n\\if TRUE\n\\else\n;\n\\endif\n;\n", {}),
    ("inactive-branch-semicolon-sends-nothing", b"1\n\\if yestr\n(3);\n\\endif\nINSERT INTO m VALUES(4);\n", {}),
    # found by the harness
    ("quote-at-statement-start-is-no-e-string", b"'\\';INSERT INTO m VALUES(9);", {}),
    ("backslash-colon-is-a-colon", b"INSERT INTO m VALUES(1)\\:x;", {}),
    ("number-junk-swallows-dollars", b"1e$$ $$;INSERT INTO m VALUES(7);", {}),
    ("hex-junk-swallows-dollars", b"0x$$ $$;INSERT INTO m VALUES(5);", {}),
    ("simple-line-create-function-begin", b"CREATE\nFUNCTION BEGIN;\nINSERT INTO m VALUES(6);", {}),
    ("one-simple-line-create-procedure-begin", b"CREATE PROCEDURE BEGIN s;\r\nINSERT INTO m VALUES(10);", {}),
    ("backslash-semicolon-restarts-create-tracking", b"SELECT\\;CREATE FUNCTION BEGIN e$nd;INSERT INTO m VALUES(5);", {}),
    ("param-junk-is-not-end", b"CREATE FUNCTION BEGIN $1end;INSERT INTO m VALUES(8);", {}),
    ("q-sends-the-pending-statement", b"INSERT INTO m VALUES(21)\\q", {}),
    ("backslash-semicolon-after-a-meta-command", b"\\set\\;INSERT INTO m VALUES(18);", {}),
    ("backslash-semicolon-after-echo", b"\\echo\\;INSERT INTO m VALUES(6)", {}),
    ("dollar-after-an-unknown-variable", b":V$$ $$;INSERT INTO m VALUES(20);", {}),
    ("rest-of-line-dropped-after-a-failed-command", b"'\\*/'\\\\\\\\'\n;INSERT INTO m VALUES(19);", {}),
    ("conditional-after-a-failed-command-is-dropped", b"\\elif\\if TRUE\\else\nINSERT INTO m VALUES(14);", {}),
    ("if-after-an-invalid-command-is-dropped", b"\\setvv\\if\nINSERT INTO m VALUES(9);", {}),
    ("if-without-argument-then-dropped-rest", b"INSERT INTO m VALUES(2)\\if\\foo\\endif", {}),
    ("begin-in-an-inactive-branch-is-forgotten", b"CREATE FUNCTION\\if\nBEGIN\\endif\n1;INSERT INTO m VALUES(12);", {}),
    ("begin-in-an-inactive-branch-groups", b"CREATE FUNCTION i1()RETURNS int LANGUAGE sql\\if\nBEGIN\\endif\nRETURN 1;INSERT INTO m VALUES(9);"
                                          b"INSERT INTO m VALUES(30);", {}),
    ("backslash-semicolon-inside-begin-block", b"CREATE FUNCTION BEGIN\\;END;INSERT INTO m VALUES(41);", {}),
    ("backslash-semicolon-inside-begin-atomic", b"CREATE FUNCTION r1()RETURNS void LANGUAGE sql BEGIN ATOMIC\\;INSERT INTO m VALUES(24);"
                                               b"END;SELECT r1();", {}),
    ("identifiers-in-parentheses-do-not-count", b"CREATE(x)FUNCTION BEGIN;INSERT INTO m VALUES(11);", {}),
    ("copy-words-syntax-error", b"COPY FROM STDIN;\r\nINSERT INTO m VALUES(21);", {}),
    ("copy-from-stdout", b"COPY FROM STDOUT;\nINSERT INTO m VALUES(11);", {}),
    ("copy-sent-by-g", b"COPY c FROM STDIN\\g\nINSERT INTO m VALUES(7);\n\\.\n", {}),
    ("failed-copy-sent-by-g", b"COPY FROM STDIN\\g\nINSERT INTO m VALUES(7);", {}),
    ("value-comment-ends-with-the-value", b"\\set w1 '--'\n:w1 INSERT INTO m VALUES(15);", {}),
    ("value-e-is-no-e-string-prefix", b"\\set vv 'e'\n:vv'\\';INSERT INTO m VALUES(8);", {}),
    ("value-backslash-starts-a-command", b"\\set vv '\\\\'\\set w :vv\r\n:w;INSERT INTO m VALUES(2);", {}),
    ("hex-string-takes-no-escapes-with-std-off", b"SET standard_conforming_strings=off;\nx'\\'';INSERT INTO m VALUES(13);", {}),
    ("junk-e-string-with-std-off", b"SET standard_conforming_strings=off;\n1E'\\u0027\\'\\''a;INSERT INTO m VALUES(4);", {}),
    ("include-extra-arguments-ignored", b"\\i inc1.sql INSERT\n", {"inc1.sql": b"INSERT INTO m VALUES (4);\n"}),
    ("include-then-g-repeats-nothing", b"\\i inc1.sql\\gexec\n", {"inc1.sql": b"INSERT INTO m VALUES (13)\n"}),
    ("if-with-unterminated-quote-is-true", b"\\if\tt\r'\nINSERT INTO m VALUES(8);", {}),
    ("nul-drops-the-rest-of-the-line", b"\x00\nINSERT INTO m VALUES(3);", {}),
    ("nul-in-a-string", b"'x\x00';INSERT INTO m VALUES(22);", {}),
    ("meta-command-with-invalid-utf8", b"\\set v 'a\\377'\nINSERT INTO m SELECT 1 WHERE :{?v};", {}),
    ("backquote-with-invalid-utf8", b"\\set v `printf 'a\\377'`\nINSERT INTO m SELECT 1 WHERE :{?v};", {}),
    ("echo-invalid-utf8", b"\\echo \xff\n", {}),
    ("trailing-semicolon-of-an-argument", b"\\x ;\n", {}),
    ("backslash-colon-at-line-start", b"\\:x;INSERT INTO m VALUES(39);", {}),
    ("dollar-after-an-unknown-non-ascii-variable", b"$$$$:\xc3\xa9$$;INSERT INTO m VALUES(8);", {}),
    ("sql-after-double-backslash-of-an-invalid-command", b"\\.m\\\\VALUES(8);INSERT INTO m VALUES(16);", {}),
    ("g-after-an-invalid-command-is-dropped", b"INSERT INTO m VALUES(8)\\timingINSERT\\g", {}),
    ("endif-after-a-failed-elif-is-dropped", b"\\if `echo true`\\else\\elif\\endif\nINSERT INTO m\nVALUES(39);", {}),
    ("command-after-a-failed-gexec-runs", b"'INSERT1/0'\\gexec\\i inc1.sql\n", {"inc1.sql": b"INSERT INTO m VALUES (1);\n"}),
    ("inactive-branch-restores-identifier-tracking", b"m\\if\n;\\elif t\nCREATE\nPROCEDURE\nBEGIN*/;INSERT INTO m VALUES(17);", {}),
    ("indented-meta-command-keeps-the-semicolon-restart", b"SELECT\\;CREATE FUNCTION BEGIN;INSERT INTO m VALUES(5);\n  \\echo\nSELECT 1;\n",
     {}),
    ("copy-with-many-names-reads-its-data-as-sql", b"COPY a.b.c.d.e.f.g.h FROM STDIN;\nINSERT INTO m VALUES (1);\n\\.\n"
                                                   b"INSERT INTO m VALUES (2);\n", {}),
    ("copy-words-on-two-lines", b"COPY FROM\nSTDIN;\nINSERT INTO m VALUES(1);", {}),
    ("value-slash-then-star-is-no-comment", b"\\set \xc3\xa9 '*'\n/:\xc3\xa9;INSERT INTO m VALUES(4);", {}),
    ("value-backslash-twice", b"\\set _x '\\\\'\n:_x:_x;INSERT INTO m VALUES(6);", {}),
    ("identifier-e-quote-with-std-off", b"SET standard_conforming_strings=off;\n_E'\\'''!';INSERT INTO m VALUES(2);", {}),
    ("refused-statement-is-the-previous-query", b"INSERT INTO m VALUES(1);\xff\\:x;\\g", {}),
    ("bad-bytes-in-sql-after-a-command", b"INSERT INTO m VALUES(4)\\echo\\;'\xc0\xaf';", {}),
    ("if-with-bad-bytes-after-a-command", b"INSERT INTO m VALUES(33)\\;\\echo\\if  \xed\xa0\x80", {}),
    ("dollar-tag-never-spans-a-value-edge", b"\\set \xc3\xa9 '$a'\n:\xc3\xa9$$$$;INSERT INTO m VALUES(52);", {}),
    ("copy-in-parentheses-after-backslash-semicolon", b"SELECT(\\;)COPY FROM STDIN;\nINSERT INTO m VALUES(5);", {}),
    ("g-file-that-cannot-open-fails-its-query-not-the-line", b"(2)\\gx\r1/0\\;INSERT INTO m VALUES(15);", {}),
    ("bit-string-takes-no-doubled-quote", b"SET standard_conforming_strings=off;\n\\i 'inc1.sql'",
     {"inc1.sql": b"INSERT INTO m VALUES (12);\nSELECT B'\n\\echo in\n''''\n\\echo in\n\\'' AS a;"
                  b" INSERT INTO m VALUES (17);\nSELECT 'x"}),
    ("backslash-semicolon-from-a-value-twice", b"\\set v '\\\\;'\n:v:v;", {}),
    ("continued-string-keeps-the-first-ones-mode", b"SET standard_conforming_strings=off;\nU&'a'\r'/*\\'';"
                                                  b"INSERT INTO m VALUES(36);", {}),
    ("e-string-continued-on-a-line-starting-with-cr", b"E'a'\n\r'\\';INSERT INTO m VALUES(8);", {}),
    ("gx-file-argument", b"INSERT INTO m VALUES(16)\\gx\r;'", {}),
    ("include-has-its-own-previous-buffer", b"INSERT INTO m VALUES(31);\\i inc1.sql", {"inc1.sql": b"\\g\rINSERT INTO m VALUES (33);\r/* c"}),
    ("set-with-an-unterminated-quote-sets-empty", b"\\set cp STDIN'\r\nINSERT INTO m SELECT 1 WHERE :{?cp};\n", {}),
    ("set-literal-invalid-utf8", b"\\set v 1\x80\nINSERT INTO m SELECT 1 WHERE :{?v};", {}),
    ("if-with-invalid-utf8", b"INSERT INTO m VALUES(17)\\if 1\xc3", {}),
    ("nul-at-the-end-of-a-statement-line", b"SELECT'INSERT'\x00", {}),
    ("extra-argument-is-a-warning", b"\\conninfo INTO", {}),
    ("extra-argument-with-an-unterminated-quote", b"\\r\rU&'g\\';", {}),
]


# found by the harness in meta-commands' arguments, failures and ON_ERROR_STOP
REGRESSIONS += [
    ("extra-argument-after-a-dropped-semicolon", b"\\x ; INSERT", {}),
    ("unterminated-quote-in-an-extra-argument-of-endif", b"\\if off\\endif\r'x", {}),
    ("unterminated-quote-in-a-skipped-command", b"\\if  :{?nosuch}\\if\\if 'unterminated\n\\endif\\endif\\endif", {}),
    ("lone-semicolon-is-the-previous-query", b"INSERT INTO m VALUES(2);;\\g", {}),
    ("backslash-semicolons-only-send-nothing", b"\\; \\;", {}),
    ("unset-of-an-invalid-name-is-no-error", b"\\unset ON_ERROR_STOP;;", {}),
    ("on-error-stop-counts-from-the-next-line", b"\\set ON_ERROR_STOP\\i\n\\i inc2.sql",
     {"inc2.sql": b"INSERT INTO m VALUES (17);\rBEGIN \\; INSERT INTO m VALUES (18) \\; COMMIT;\r\\; \\;\r"}),
    ("include-stopped-by-on-error-stop-fails-its-include", b"\\set ON_ERROR_STOP\\i inc1.sql\nINSERT INTO m VALUES(11);",
     {"inc1.sql": b"INSERT INTO m VALUES (1);\r\n\\;;\r\nSELECT 'x"}),
    ("g-with-an-open-option-list-keeps-the-buffer", b"INSERT INTO m VALUES(1) \\g (format=csv\nINSERT INTO m VALUES(2);", {}),
    ("g-with-a-bad-option-drops-the-line", b"INSERT INTO m VALUES(1) \\g (bogus=1) \\\\ ; INSERT INTO m VALUES(2);", {}),
]


# the README's deliberate difference: a backquoted command's output that is not UTF-8 is an
# error of its meta-command (psql stores the bytes); qshell then runs less than psql, never more
SUBSET_ONLY = {"backquote-with-invalid-utf8"}


@pytest.mark.parametrize("name, script, files", REGRESSIONS, ids=[c[0] for c in REGRESSIONS])
def test_found_cases_run_as_psql_runs_them(runner, name, script, files):
    diffs = runner.compare(script, files, subset=name in SUBSET_ONLY)
    assert not diffs, f"{name}: {script!r}\n" + "\n".join(d.describe() for d in diffs)


COUNT = int(os.environ.get("QSHELL_DIFF_COUNT", "300"))
# a fixed seed: the same 300 scripts every run, so that a failure is this change's (the
# thousands of `python -m tests.difflex` take a random one, to find what is new)
SEED = int(os.environ.get("QSHELL_DIFF_SEED") or "20261206")
MAX_REPORTED = 3  # differing scripts described in a failure (the first one shrunk)


@pytest.fixture(scope="module")
def runner(dsn, tmp_path_factory):
    with Runner(dsn, tmp_path_factory.mktemp("difflex")) as r:
        yield r


def _report(seed: int, found: list) -> str:
    lines = [f"qshell and psql differ on {len(found)} generated script(s) of seed {seed}"
             f" (again: QSHELL_DIFF_SEED={seed} QSHELL_DIFF_COUNT={COUNT}; or python -m tests.difflex --one SCRIPT_SEED)"]
    for script_seed, script, diffs, small in found:
        lines.append(f"script seed {script_seed}: {script.data!r}")
        lines.extend(f"  file {name}: {content!r}" for name, content in script.files.items())
        lines.extend("  " + d.describe() for d in diffs)
        if small is not None:
            lines.append(f"  shrunk: {small!r}")
    return "\n".join(lines)


@pytest.mark.slow
def test_generated_scripts_run_as_psql_runs_them(runner):
    started = time.monotonic()
    found: list = []
    inconclusive = 0
    ran = 0
    for i in range(COUNT):
        ran += 1
        script_seed = SEED * 1_000_003 + i
        script = generate(script_seed)
        diffs = runner.compare(script.data, script.files)
        if diffs and artifact(script.data, diffs):  # a psql-only command reached where it runs: nothing to compare
            inconclusive += 1
            continue
        if diffs:
            small = shrink(runner, script.chunks, diffs[0].kind, diffs[0].form, 20, script.files) if not found else None
            found.append((script_seed, script, diffs, small))
            if len(found) >= MAX_REPORTED:
                break
    took = time.monotonic() - started
    print(f"difflex: seed {SEED}, {ran} of {COUNT} scripts ({inconclusive} inconclusive), {runner.runs} runs in {took:.1f} s")
    if found:
        pytest.fail(_report(SEED, found), pytrace=False)


@pytest.mark.slow
def test_in_process_runs_are_the_real_programs(runner):
    """The harness runs qshell in-process (``main`` with the script as stdin, or ``-f``):
    on a few scripts, the real program (``python -m qshell``) lands the same markers, in
    the same transactions, with the same exit status."""
    scripts = [(case[1], case[2]) for case in REGRESSIONS[:3]]
    scripts += [(g.data, g.files) for g in (generate(SEED * 1_000_003 + i) for i in range(3))]
    for data, files in scripts:
        for name, content in files.items():
            (runner.dir / name).write_bytes(content)
        for form in ("file", "stdin"):
            inproc, real = runner.qshell(data, form), runner.qshell(data, form, real=True)
            assert (inproc.markers, inproc.groups, inproc.status) == (real.markers, real.groups, real.status), (form, data)
