"""The run history: one SQLite file (``runs.sqlite``) in the history directory.

Every ``\\go`` stores its run record in one transaction; what the next ``\\go`` needs
(the last measured time and the time alone at N=1 of each staged query, on this target)
is an indexed lookup of just those queries, so neither start-up nor a run depends on the
history's size. ``\\history K`` reads K runs and ``\\compare`` two. The older
``runs.jsonl`` (one JSON record per line) is imported once; JSON lines stay the export
format: ``python -m qshell.history dump [--history-dir DIR]``. Schema: history/README.md.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Literal

from qshell.common.numbers import DEFAULT_KEEP
from qshell.common.paths import private_file
from qshell.common.visible import json_text
from qshell.engine.analysis import normalize

if TYPE_CHECKING:  # pragma: no cover
    import sqlite3  # imported when the history is first opened, not at start-up

FILE = "runs.sqlite"
JSONL = "runs.jsonl"
SCHEMA = 2  # PRAGMA user_version of a runs.sqlite written by this qshell (1: one results row per query)
BUSY_MS = 10000  # how long a write waits for another qshell's transaction

# the fields \history, \compare and the measured-time memory use, and the type each must have
# when present (a record missing one is shown with a blank or zero)
_NUMBER = ("started_at", "wall_ms", "sum_ms", "overlap", "speedup", "bound_ms", "efficiency")
# a run's sum ÷ wall was called "speedup" in records written before it became "overlap"
# ("speedup" now means only a sweep's time at N=1 ÷ time at N): read under its new name
_RENAMED = (("speedup", "overlap"),)
_INT = ("n", "queries", "ok", "failed")
_TEXT = ("run_id", "fingerprint", "label", "mode", "order", "target")
LAST_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
_RESULT_NUMBER = ("total_ms",)
_RESULT_INT = ("index",)
_RESULT_TEXT = ("sql", "status")

_DDL = """
CREATE TABLE runs (
    number      INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL,
    started_at  REAL,
    target      TEXT,
    fingerprint TEXT,
    n           INTEGER,
    interrupted INTEGER NOT NULL,
    trimmed     INTEGER NOT NULL DEFAULT 0,
    record      TEXT NOT NULL
);
CREATE INDEX runs_run_id ON runs (run_id);
CREATE INDEX runs_set ON runs (fingerprint, trimmed, number);
CREATE TABLE results (
    run   INTEGER PRIMARY KEY,
    count INTEGER NOT NULL,
    data  BLOB NOT NULL
);
CREATE TABLE timings (
    key      INTEGER NOT NULL,
    run      INTEGER NOT NULL,
    alone    INTEGER NOT NULL,
    total_ms REAL NOT NULL,
    PRIMARY KEY (key, run)
) WITHOUT ROWID;
CREATE INDEX timings_alone ON timings (key, run, total_ms) WHERE alone;
CREATE INDEX timings_run ON timings (run);
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_TABLES = {"runs", "results", "timings", "meta"}
_LEVEL = 1  # zlib level of the results: 50,000 records of a run compress ~100x in ~20 ms
_BATCH = 512  # records joined before each compress call

# the lookup \go makes per staged query: two index seeks, one row each
LOOKUP = ("SELECT (SELECT total_ms FROM timings WHERE key = ?1 ORDER BY run DESC LIMIT 1),"
          " (SELECT total_ms FROM timings INDEXED BY timings_alone WHERE key = ?1 AND alone ORDER BY run DESC LIMIT 1)")


class HistoryError(Exception):
    """The run history cannot be used (unreadable, foreign, newer, or not writable)."""


class Results:
    """The query records of one run as ``results.data`` stores them: one zlib-compressed
    JSON array, fed one record's JSON text at a time (memory stays one batch), and the
    measured times that go to ``timings`` (the last one of each SQL text)."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(_LEVEL)
        self._chunks: list[bytes] = []
        self._batch: list[str] = []
        self._open = b"["  # what goes before the next batch
        self.count = 0
        self.times: dict[str, float] = {}  # SQL -> total_ms of its last ok run, in the order last run

    def add(self, text: str, sql: str | None = None, total_ms: float | None = None) -> None:
        """One query record (``text``: its JSON); ``sql`` and ``total_ms`` when it is a
        measured time (status ok)."""
        self._batch.append(text)
        self.count += 1
        if len(self._batch) >= _BATCH:
            self._flush()
        if sql is not None and total_ms is not None:
            if sql in self.times:  # moved to the end: of two texts with one timing key, the last ran last
                del self.times[sql]
            self.times[sql] = total_ms

    def _flush(self) -> None:
        if self._batch:
            self._chunks.append(self._z.compress(self._open + ",".join(self._batch).encode("utf-8", "surrogatepass")))
            self._open = b","
            self._batch = []

    def data(self) -> bytes:
        """The compressed array (call once, after the last ``add``)."""
        self._flush()
        self._chunks.append(self._z.compress(b"]" if self.count else b"[]"))
        self._chunks.append(self._z.flush())
        return b"".join(self._chunks)

    @classmethod
    def of(cls, results: Iterable[dict]) -> "Results":
        """From query records as dicts (an imported runs.jsonl, a library caller)."""
        out = cls()
        for q in results:
            ok = q.get("status") == "ok" and isinstance(q.get("sql"), str)
            out.add(_dumps(q), q["sql"] if ok else None, q.get("total_ms", 0.0) if ok else None)
        return out


def _load_results(data: bytes) -> list:
    """The query records of ``results.data``; ValueError when damaged."""
    try:
        results = json.loads(zlib.decompress(data))
    except zlib.error as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(results, list):
        raise ValueError("not a list of records")
    return results


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v not in (float("inf"), float("-inf"))


def _typed(rec: dict, numbers: tuple[str, ...], ints: tuple[str, ...], texts: tuple[str, ...]) -> bool:
    return (all(_is_number(rec[k]) for k in numbers if k in rec)
            and all(isinstance(rec[k], int) and not isinstance(rec[k], bool) for k in ints if k in rec)
            and all(isinstance(rec[k], str) for k in texts if k in rec))


def renamed(rec: dict) -> dict:
    """``rec`` (a run record) with the fields of older qshells under their present names."""
    for old, new in _RENAMED:
        if old in rec and new not in rec:
            rec[new] = rec.pop(old)
    return rec


def valid_run(rec: object) -> bool:
    """A run record whose fields have the types the commands rely on (history/README.md)."""
    if not isinstance(rec, dict) or rec.get("type") != "run" or not _typed(rec, _NUMBER, _INT, _TEXT):
        return False
    if not 0 <= rec.get("started_at", 0) <= LAST_EPOCH:  # a time the clock can show
        return False
    results = rec.get("results", [])
    return isinstance(results, list) and all(
        isinstance(q, dict) and _typed(q, _RESULT_NUMBER, _RESULT_INT, _RESULT_TEXT) for q in results)


def read_jsonl(path: Path) -> Iterator[dict | None]:
    """The run records of a ``runs.jsonl``, line by line; None for each damaged line
    (not JSON, not a run record, or a field of the wrong type)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                yield None
                continue
            yield renamed(rec) if valid_run(rec) else None


def timing_key(target: str, sql: str) -> int:
    """The key of a query's timings: the first 8 bytes of SHA-1 of target NUL normalised SQL,
    as a signed 64-bit integer."""
    digest = hashlib.sha1(f"{target}\0{normalize(sql)}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RunStore:
    """One open ``runs.sqlite``. Every method raises HistoryError on an SQLite error."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db

    # -- opening ----------------------------------------------------------------------
    @classmethod
    def open(cls, directory: Path, *, create: bool = True, keep: int = DEFAULT_KEEP) -> tuple["RunStore | None", list[str]]:
        """The store of ``directory`` and notes for the user (an import of runs.jsonl and the
        damaged lines it skipped). Without ``create``, None when neither file exists yet."""
        path, jsonl = directory / FILE, directory / JSONL
        if not create and not path.exists() and not jsonl.exists():
            return None, []
        import sqlite3

        try:
            private_file(path)  # mode 0600; SQLite gives the -wal and -shm files the same mode
            db = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open the run history {path}: {_why(exc)}") from None
        store = cls(path, db)
        try:
            store._prepare()
            notes = store._import(jsonl, keep) if jsonl.exists() else []
        except HistoryError:
            db.close()
            raise
        return store, notes

    def _prepare(self) -> None:
        with self._errors():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]  # reads the header
            if version == 0:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    version = self.db.execute("PRAGMA user_version").fetchone()[0]
                    names = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                    if version == 0 and names:
                        raise HistoryError(f"{self.path} is not a qshell run history (tables: {', '.join(sorted(names))})")
                    if version == 0:
                        for stmt in _DDL.split(";"):
                            if stmt.strip():
                                self.db.execute(stmt)
                        self.db.execute(f"PRAGMA user_version = {SCHEMA}")
                        version = SCHEMA
                    self.db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            if version == 1:
                version = self._upgrade_from_1()
            if version != SCHEMA:
                raise HistoryError(f"{self.path} has run history schema {version}; this qshell reads schema {SCHEMA}")
            names = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not _TABLES <= names:
                raise HistoryError(f"{self.path} is not a qshell run history (missing tables)")
            if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self.db.execute("PRAGMA journal_mode = WAL")  # concurrent shells: readers never wait
            self.db.execute("PRAGMA synchronous = NORMAL")

    def _upgrade_from_1(self) -> int:
        """Schema 1 kept one ``results`` row per query: rewrite them as one compressed row
        per run (once, in one transaction; another qshell may have just done it)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version == 1:
                self.db.execute("ALTER TABLE results RENAME TO results_1")
                self.db.execute("CREATE TABLE results (run INTEGER PRIMARY KEY, count INTEGER NOT NULL, data BLOB NOT NULL)")
                runs = [r for (r,) in self.db.execute("SELECT DISTINCT run FROM results_1 ORDER BY run")]
                for run in runs:
                    blob = Results()
                    for (text,) in self.db.execute("SELECT record FROM results_1 WHERE run = ? ORDER BY pos", (run,)):
                        blob.add(text)
                    self.db.execute("INSERT INTO results VALUES (?, ?, ?)", (run, blob.count, blob.data()))
                self.db.execute("DROP TABLE results_1")
                self.db.execute(f"PRAGMA user_version = {SCHEMA}")
                version = SCHEMA
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return version

    def _import(self, jsonl: Path, keep: int) -> list[str]:
        """Import ``runs.jsonl`` once (the file is left as it is and never read again)."""
        with self._errors():
            if self._meta("jsonl_imported") is not None:
                return []
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if self._meta("jsonl_imported") is not None:  # another qshell just did
                    self.db.execute("ROLLBACK")
                    return []
                imported = damaged = 0
                sets = set()
                try:
                    for rec in read_jsonl(jsonl):
                        if rec is None:
                            damaged += 1
                            continue
                        self._insert(rec)
                        sets.add(rec.get("fingerprint"))
                        imported += 1
                except OSError as exc:
                    raise HistoryError(f"cannot read {jsonl}: {_why(exc)}") from None
                for fp in sets:
                    if fp is not None:
                        self._trim(fp, keep)
                self.db.execute("INSERT INTO meta VALUES ('jsonl_imported', ?)",
                                (json.dumps({"runs": imported, "damaged": damaged}),))
                self.db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        notes = [f"imported {imported} run(s) from {jsonl} into {self.path} (once; {JSONL} is no longer read)"]
        if damaged:
            notes.append(f"warning: skipped {damaged} damaged line(s) in {jsonl}")
        return notes

    def _rollback(self) -> None:
        """Undo the open transaction after an error, if SQLite has not already: on a full
        disk (SQLITE_FULL) or an I/O error it rolls the transaction back by itself, and a
        ROLLBACK then fails with "cannot rollback - no transaction is active", which would
        hide the error that mattered. Never raises: the error being handled is the one told."""
        import sqlite3

        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Close the store, its write-ahead log folded into the database first: a store
        left open at exit kept a -wal file that grew with every run (147 MB after 30 runs
        of 10,000 queries) and every later start read through it. Another shell reading
        the store keeps its part of the log (the checkpoint is then partial); never fails."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self.db.close()

    # -- writing ----------------------------------------------------------------------
    def append(self, rec: dict, keep: int = DEFAULT_KEEP, results: Results | None = None) -> int:
        """Store one run record (one transaction); trim its set's older results. Its number.

        Its query records are ``results`` when given (already JSON text, as the output
        printed them), else ``rec["results"]``. On a failure (a full disk) nothing of it is
        stored, what the file held stays, and the store can still be read."""
        with self._errors(writing=True):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                number = self._insert(rec, results)
                if isinstance(rec.get("fingerprint"), str):
                    self._trim(rec["fingerprint"], keep)
                self.db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return number

    def _insert(self, rec: dict, results: Results | None = None) -> int:
        if results is None:
            results = Results.of(rec.get("results", []))
        head = {k: v for k, v in rec.items() if k != "results"}
        interrupted = bool(rec.get("interrupted"))
        target = rec.get("target")
        cur = self.db.execute(
            "INSERT INTO runs (run_id, started_at, target, fingerprint, n, interrupted, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(rec.get("run_id", "")), rec.get("started_at"), target, rec.get("fingerprint"), rec.get("n"),
             int(interrupted), _dumps(head)))
        number = cur.lastrowid
        assert number is not None  # always set by a successful INSERT
        self.db.execute("INSERT INTO results VALUES (?, ?, ?)", (number, results.count, results.data()))
        if not interrupted and isinstance(target, str):  # an interrupted run's times are not measurements
            alone = int(rec.get("n") == 1)
            self.db.executemany(
                "INSERT OR REPLACE INTO timings VALUES (?, ?, ?, ?)",
                ((timing_key(target, sql), number, alone, total_ms) for sql, total_ms in results.times.items()))
        return number

    def _trim(self, fingerprint: str, keep: int) -> None:
        """Keep the per-query results and timings of the last ``keep`` runs of a set; the run rows stay."""
        old = self.db.execute("SELECT number FROM runs WHERE fingerprint = ? AND trimmed = 0"
                              " ORDER BY number DESC LIMIT -1 OFFSET ?", (fingerprint, keep)).fetchall()
        for (number,) in old:
            self.db.execute("DELETE FROM results WHERE run = ?", (number,))
            self.db.execute("DELETE FROM timings WHERE run = ?", (number,))
            self.db.execute("UPDATE runs SET trimmed = 1 WHERE number = ?", (number,))

    # -- reading ----------------------------------------------------------------------
    def lookup(self, target: str, queries: Iterable[str]) -> tuple[dict[str, float], dict[str, float]]:
        """(last measured time, last time alone at N=1) in seconds, per normalised SQL of
        ``queries`` that has one on ``target``: two index seeks per query."""
        times: dict[str, float] = {}
        alone: dict[str, float] = {}
        with self._errors():
            for sql in {normalize(q) for q in queries}:
                last, by_itself = self.db.execute(LOOKUP, (timing_key(target, sql),)).fetchone()
                if _is_number(last):
                    times[sql] = last / 1000
                if _is_number(by_itself):
                    alone[sql] = by_itself / 1000
        return times, alone

    def count(self) -> int:
        with self._errors():
            return self.db.execute("SELECT coalesce(max(number), 0) FROM runs").fetchone()[0]

    def last(self, k: int, results: bool = True) -> tuple[list[tuple[int, dict]], int]:
        """The last ``k`` runs, oldest first, as (number, record), and how many were damaged."""
        with self._errors():
            rows = self.db.execute("SELECT number, trimmed, record FROM runs ORDER BY number DESC LIMIT ?", (k,)).fetchall()
            return self._records(reversed(rows), results)

    def find(self, ref: str) -> tuple[int, dict] | None:
        """A run by its number (1 = the first recorded; -1 = the latest) or by run_id prefix."""
        from qshell.common.numbers import INT64_MAX, is_whole, whole

        with self._errors():
            if not is_whole(ref):  # ASCII digits only: "١" is no number
                row = self.db.execute("SELECT number, trimmed, record FROM runs WHERE run_id >= ? AND run_id < ?"
                                      " ORDER BY number DESC LIMIT 1", (ref, ref + "\U0010ffff")).fetchone()
            else:
                try:
                    k = whole(ref, -INT64_MAX, INT64_MAX)
                except ValueError:  # beyond any number SQLite holds: no such run
                    return None
                if k < 0:
                    row = self.db.execute("SELECT number, trimmed, record FROM runs ORDER BY number DESC"
                                          " LIMIT 1 OFFSET ?", (-k - 1,)).fetchone()
                else:
                    row = self.db.execute("SELECT number, trimmed, record FROM runs WHERE number = ?", (k,)).fetchone()
            if row is None:
                return None
            found, _ = self._records([row], True)
            return found[0] if found else None

    def dump(self) -> Iterator[dict]:
        """Every stored record, oldest first, with its results (the JSON-lines export)."""
        with self._errors():
            number = 0
            while True:  # in pages: the export never holds the whole history
                rows = self.db.execute("SELECT number, trimmed, record FROM runs WHERE number > ? ORDER BY number"
                                       " LIMIT 100", (number,)).fetchall()
                if not rows:
                    return
                found, _ = self._records(rows, True)
                yield from (rec for _, rec in found)
                number = rows[-1][0]

    def _records(self, rows: Iterable[tuple], results: bool) -> tuple[list[tuple[int, dict]], int]:
        out, damaged = [], 0
        for number, trimmed, text in rows:
            try:
                rec = json.loads(text)
                if results:
                    row = self.db.execute("SELECT data FROM results WHERE run = ?", (number,)).fetchone()
                    rec["results"] = _load_results(row[0]) if row is not None else []
            except ValueError:
                damaged += 1
                continue
            if trimmed:
                rec["results_trimmed"] = True
            if valid_run(rec):
                out.append((number, renamed(rec)))
            else:
                damaged += 1
        return out, damaged

    def _errors(self, writing: bool = False):  # noqa: ANN202
        return _Errors(self.path, writing)


class _Errors:
    """Turn an SQLite error into HistoryError naming the file and saying what it is: a
    full disk (``disk full writing the run history …``), a failed write, or a history
    that cannot be used."""

    def __init__(self, path: Path, writing: bool = False) -> None:
        self.path = path
        self.writing = writing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> Literal[False]:  # noqa: ANN001
        import sqlite3

        if isinstance(exc, sqlite3.Error):
            raise HistoryError(_what_failed(exc, self.path, self.writing)) from None
        return False


def _what_failed(exc: BaseException, path: Path, writing: bool) -> str:
    """The one line for an SQLite error on the run history at ``path``."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    why = _why(exc)
    if name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and _no_space(path)):
        return f"disk full writing the run history {path}: {why}" + ("" if name == "SQLITE_FULL" else " (no space left)")
    if writing:
        return f"cannot write the run history {path}: {why}"
    return f"run history {path} unusable: {why}"


def _no_space(path: Path) -> bool:
    """The filesystem of ``path`` has (next to) no space left: SQLite says "disk I/O error"
    when it cannot grow its shared-memory file there."""
    import os

    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def _dumps(obj: object) -> str:
    return json_text(obj)


def main(argv: list[str] | None = None) -> int:
    """``python -m qshell.history dump [--history-dir DIR]``: every record as a JSON line."""
    import argparse
    import sys

    from qshell.common.paths import history_dir

    p = argparse.ArgumentParser(prog="python -m qshell.history", description="Export qshell's run history.")
    p.add_argument("action", choices=["dump"], help="dump: print every run record as one JSON line, oldest first")
    p.add_argument("--history-dir", metavar="DIR", help="the history directory (default: as qshell)")
    args = p.parse_args(argv)
    directory = history_dir(args.history_dir)
    try:
        store, notes = RunStore.open(directory, create=False)
        for note in notes:
            print(note, file=sys.stderr)
        if store is None:
            return 0
        for rec in store.dump():
            sys.stdout.write(_dumps(rec) + "\n")
    except HistoryError as exc:
        print(f"qshell.history: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
