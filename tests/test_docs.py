"""Code shown in docs/ runs as shown: the engine-as-a-library example of
docs/how-it-works.md, in a process of its own (it patches with gevent as a program does),
on the test server (the one thing changed: its connection string)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.slow
def test_the_library_example_runs_as_shown(dsn):
    page = (DOCS / "how-it-works.md").read_text(encoding="utf-8")
    section = page[page.index("## Using the engine as a library"):]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    code, swapped = re.subn(r'Database\("[^"]*"\)', f"Database({dsn!r})", code)
    assert swapped == 1, "the example connects with Database(\"…\")"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    wall, overlap, statuses = proc.stdout.split(" ", 2)
    assert statuses.strip() == str(["ok"] * 6)
    # six 0.2 s sleeps on three workers: two rounds; the overlap is a ratio within this one run
    assert 0.4 <= float(wall) < 0.8 and 2.5 <= float(overlap) <= 3.05, proc.stdout
