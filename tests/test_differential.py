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
import random
import time

import pytest

from .difflex import Runner, generate, shrink

COUNT = int(os.environ.get("QSHELL_DIFF_COUNT", "300"))
SEED = int(os.environ["QSHELL_DIFF_SEED"]) if os.environ.get("QSHELL_DIFF_SEED") else random.SystemRandom().randrange(2**32)
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


def test_generated_scripts_run_as_psql_runs_them(runner):
    started = time.monotonic()
    found: list = []
    for i in range(COUNT):
        script_seed = SEED * 1_000_003 + i
        script = generate(script_seed)
        diffs = runner.compare(script.data, script.files)
        if diffs:
            small = shrink(runner, script.chunks, diffs[0].kind, diffs[0].form, 20, script.files) if not found else None
            found.append((script_seed, script, diffs, small))
            if len(found) >= MAX_REPORTED:
                break
    took = time.monotonic() - started
    print(f"difflex: seed {SEED}, {COUNT} scripts, {runner.runs} runs in {took:.1f} s")
    if found:
        pytest.fail(_report(SEED, found), pytrace=False)
