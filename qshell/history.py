"""Reading back the run records of ``runs.jsonl`` (written by the shell after each run)."""
from __future__ import annotations

import json
from pathlib import Path


# the fields \history, \compare and the measured-time memory use, and the type each must have
# when present (a record missing one is shown with a blank or zero)
_NUMBER = ("started_at", "wall_ms", "sum_ms", "speedup", "bound_ms", "efficiency")
_INT = ("n", "queries", "ok", "failed")
_TEXT = ("run_id", "fingerprint", "label", "mode", "order", "target")
LAST_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
_RESULT_NUMBER = ("total_ms",)
_RESULT_INT = ("index",)
_RESULT_TEXT = ("sql", "status")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v not in (float("inf"), float("-inf"))


def _typed(rec: dict, numbers: tuple[str, ...], ints: tuple[str, ...], texts: tuple[str, ...]) -> bool:
    return (all(_is_number(rec[k]) for k in numbers if k in rec)
            and all(isinstance(rec[k], int) and not isinstance(rec[k], bool) for k in ints if k in rec)
            and all(isinstance(rec[k], str) for k in texts if k in rec))


def valid_run(rec: object) -> bool:
    """A run record whose fields have the types the commands rely on (history/README.md)."""
    if not isinstance(rec, dict) or rec.get("type") != "run" or not _typed(rec, _NUMBER, _INT, _TEXT):
        return False
    if not 0 <= rec.get("started_at", 0) <= LAST_EPOCH:  # a time the clock can show
        return False
    results = rec.get("results", [])
    return isinstance(results, list) and all(
        isinstance(q, dict) and _typed(q, _RESULT_NUMBER, _RESULT_INT, _RESULT_TEXT) for q in results)


def read_runs(directory: Path | None) -> tuple[list[dict], int]:
    """Every readable run record, oldest first, and how many damaged lines were skipped
    (not JSON, not a run record, or a field of the wrong type)."""
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
        if valid_run(rec):
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
