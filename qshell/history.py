"""Reading back the run records of ``runs.jsonl`` (written by the shell after each run)."""
from __future__ import annotations

import json
from pathlib import Path


def read_runs(directory: Path | None) -> tuple[list[dict], int]:
    """Every readable run record, oldest first, and how many damaged lines were skipped."""
    if directory is None:
        return [], 0
    path = directory / "runs.jsonl"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], 0
    runs, damaged = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            damaged += 1
            continue
        if isinstance(rec, dict) and rec.get("type") == "run":
            runs.append(rec)
        else:
            damaged += 1
    return runs, damaged


def find(runs: list[dict], ref: str) -> tuple[int, dict] | None:
    """A run by its number in ``\\history`` (1 = oldest; -1 = latest) or by run_id prefix."""
    try:
        k = int(ref)
    except ValueError:
        matches = [(i, r) for i, r in enumerate(runs, start=1) if str(r.get("run_id", "")).startswith(ref)]
        return matches[-1] if matches else None
    if k < 0:
        k = len(runs) + 1 + k
    if 1 <= k <= len(runs):
        return k, runs[k - 1]
    return None
