"""Resources per staged query (``\\set resources``): a ``pg_stat_statements`` delta.

Source and method (see README, "Why is it slow?"):

- Before a run, each distinct staged text is planned once, never executed, as
  ``EXPLAIN (VERBOSE, FORMAT JSON)`` on a worker's connection (the user's session
  settings, search_path included): its "Query Identifier" is the ``queryid``
  ``pg_stat_statements`` files its executions under. Utility statements (``CREATE``,
  ``VACUUM``…) have none: they get no figures.
- The workers run with ``pg_stat_statements.track = all`` (a superuser-only setting,
  given like the user's own settings; or already ``all`` server-wide): with the default
  ``top`` a SELECT read through qshell's ``DECLARE … CURSOR`` is not recorded under its
  own queryid.
- Right before and right after the run, one query on the side connection reads
  calls, shared blocks hit / read, temp blocks written, WAL bytes and execution time of
  those queryids (this database, every user); the difference is the run's.

What it cannot see: the executions of one queryid are one entry, so staged queries
whose texts differ only in constants (or are the same) share their figures (the entry's
total divided by its calls: an average; ``shared`` says how many staged queries),
and other sessions running the same query during the run are counted in (``calls``
above the staged count says so). A SELECT run in ``\\set tx rollback`` (its cursor dropped
by the rollback) is not recorded at all; a failed statement neither. Planning time is
not in ``server_ms`` (``pg_stat_statements.track_planning`` is off by default).
PostgreSQL 18's per-backend ``pg_stat_get_backend_io(pid)`` / ``pg_stat_get_backend_wal(pid)``
see every statement of a backend, not of a query (a worker runs several), and are
flushed lazily: not used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import psycopg2

from .errors import QshellError
from .sqlsplit import first_keyword

if TYPE_CHECKING:  # pragma: no cover
    from .database import Database
    from .results import QueryResult

TRACK = "pg_stat_statements.track"
# statements EXPLAIN takes (the others, utility statements, have no queryid to find)
EXPLAINABLE = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE"})
LOCK_TIMEOUT_MS = 500  # planning waits at most this long for a table's lock (someone's ALTER TABLE)

HOW_TO_ENABLE = ("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', restart the server,"
                 " then CREATE EXTENSION pg_stat_statements (the sandbox does this)")


@dataclass(frozen=True, slots=True)
class Resources:
    """One staged query's share of its ``pg_stat_statements`` entry during a run."""

    shared_hit: float  # shared buffers found in PostgreSQL's cache
    shared_read: float  # shared buffers read from the OS (its page cache or the disk)
    temp_written: float  # temp file blocks written (sorts, hashes beyond work_mem)
    wal_bytes: float
    server_ms: float  # execution time inside the server
    calls: int  # executions the entry counted during the run (all sessions)
    shared: int  # staged queries of the run on this entry (1: its own)

    @property
    def exact(self) -> bool:
        """Its own figures: one staged query, one execution."""
        return self.shared == 1 and self.calls == 1

    def record(self) -> dict:
        return {"source": "pg_stat_statements", "shared_hit": _num(self.shared_hit),
                "shared_read": _num(self.shared_read), "temp_written": _num(self.temp_written),
                "wal_bytes": _num(self.wal_bytes), "server_ms": round(self.server_ms, 3),
                "calls": self.calls, "shared": self.shared}


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 1)


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether ``pg_stat_statements`` can give the figures on this connection."""

    usable: bool
    why: str = ""  # when not usable: what is missing and how to enable it
    schema: str = "public"
    set_track: bool = False  # the workers need SET pg_stat_statements.track = all


def probe(db: Database) -> Probe:
    """Ask the server (side connection): extension created, library loaded, track settable."""
    try:
        row = db.scalar_row(
            "SELECT (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements'),"
            f" current_setting('{TRACK}', true),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
    except QshellError as exc:
        return Probe(False, f"cannot ask the server about pg_stat_statements: {exc}")
    schema, track, superuser = row
    if track is None:
        return Probe(False, f"pg_stat_statements is not loaded: {HOW_TO_ENABLE}")
    if schema is None:
        return Probe(False, "pg_stat_statements is loaded but not created in this database: CREATE EXTENSION pg_stat_statements")
    try:
        db.rows(f"SELECT 1 FROM {_ident(schema)}.pg_stat_statements LIMIT 1")
    except QshellError as exc:
        return Probe(False, f"pg_stat_statements cannot be read: {exc}")
    if track != "all" and not superuser:
        return Probe(False, "pg_stat_statements.track is 'top' and only a superuser may set it to 'all' for the"
                     " workers (a SELECT read through a cursor is not recorded otherwise): ask for"
                     " ALTER SYSTEM SET pg_stat_statements.track = 'all'")
    return Probe(True, schema=schema, set_track=track != "all")


def _ident(name: str) -> str:
    return name if name.isidentifier() and name.islower() else '"' + name.replace('"', '""') + '"'


def query_id(cur, sql: str) -> int | None:  # noqa: ANN001
    """The queryid ``sql`` is recorded under, from planning it (EXPLAIN VERBOSE, not run); None
    for a statement EXPLAIN does not take or that cannot be planned now."""
    if first_keyword(sql) not in EXPLAINABLE:
        return None
    try:
        cur.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0]
    except psycopg2.Error:
        return None
    if isinstance(plan, str):
        plan = json.loads(plan)
    qid = plan[0].get("Query Identifier") if plan else None
    return int(qid) if qid else None


# planning every new text in one round trip (a remote server: one RTT, not one per text); a
# temporary function of the worker's session, so nothing is left in the database
_QUERYID_FUNCTION = """CREATE OR REPLACE FUNCTION pg_temp.qshell_queryid(q text) RETURNS bigint
LANGUAGE plpgsql AS $qshell$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || q INTO plan;
  RETURN (plan -> 0 ->> 'Query Identifier')::bigint;
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END
$qshell$"""
_QUERYIDS = "SELECT pg_temp.qshell_queryid(t) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i"


def query_ids(cur, texts: Sequence[str]) -> dict[str, int | None]:  # noqa: ANN001
    """The queryid of each text (``query_id``), planned in one round trip when the session
    may create a temporary function (not in a read-only session: then one by one)."""
    out: dict[str, int | None] = {t: None for t in texts}
    todo = [t for t in texts if first_keyword(t) in EXPLAINABLE]
    if not todo:
        return out
    try:
        cur.execute(_QUERYID_FUNCTION)
        cur.execute(_QUERYIDS, (todo,))
        for text, (qid,) in zip(todo, cur.fetchall(), strict=True):
            out[text] = int(qid) if qid is not None else None
    except psycopg2.Error:
        if cur.connection.closed:
            raise
        for text in todo:
            out[text] = query_id(cur, text)
    return out


class Tracker:
    """One run's resources: ``before()`` (queryids, first snapshot), ``after(results)``."""

    def __init__(self, db: Database, found: Probe, known: dict[str, int | None]) -> None:
        self.db = db
        self.probe = found
        self.known = known  # sql -> queryid, kept by the shell across runs (cleared after DDL)
        self.ids: dict[str, int | None] = {}
        self.snap: dict[int, tuple] = {}
        self.error: str | None = None

    def before(self, queries: Sequence[str], n: int) -> None:
        """Plan the texts not planned yet on one worker connection (before the wall), then snapshot."""
        wanted = [q for q in dict.fromkeys(queries) if q not in self.known]
        if wanted:
            from .execute import settle

            self.db.ensure_pool(n)
            fairy = self.db.checkout()
            try:
                cur = fairy.dbapi_connection.cursor()
                cur.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
                try:
                    self.known.update(query_ids(cur, wanted))
                finally:
                    cur.execute("RESET lock_timeout")
            except psycopg2.Error:
                fairy.invalidate()
            finally:
                settle(fairy, worker=True)
                fairy.close()
        self.ids = {q: self.known.get(q) for q in queries}
        self.snap = self._snapshot()

    def _snapshot(self) -> dict[int, tuple]:
        ids = sorted({i for i in self.ids.values() if i is not None})
        if not ids:
            return {}
        try:
            rows = self.db.rows(
                "SELECT queryid, sum(calls), sum(shared_blks_hit), sum(shared_blks_read), sum(temp_blks_written),"
                f" sum(wal_bytes), sum(total_exec_time) FROM {_ident(self.probe.schema)}.pg_stat_statements"
                " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND queryid = ANY(%s::bigint[]) GROUP BY queryid", (ids,))
        except QshellError as exc:
            self.error = str(exc)
            return {}
        return {int(r[0]): tuple(float(x or 0) for x in r[1:]) for r in rows}

    def after(self, results: Iterable[QueryResult]) -> list[QueryResult]:
        """``results`` with their ``resources`` (those without a queryid or without any
        execution recorded have none).

        The results are this run's own, not yet handed to anyone: their ``resources`` is set
        in place (a ``dataclasses.replace`` per query cost a third of the throughput of
        20,000 ``SELECT 1`` at N=8); the queries of one entry share one ``Resources``."""
        results = list(results)
        if self.error is not None or not any(self.ids.values()):
            return results
        end = self._snapshot()
        if self.error is not None:
            return results
        staged: dict[int, int] = {}
        ids = self.ids
        for q in results:
            qid = ids.get(q.sql)
            if qid is not None:
                staged[qid] = staged.get(qid, 0) + 1
        made: dict[int, Resources | None] = {}
        for qid, count in staged.items():
            row = end.get(qid)
            if row is None:
                made[qid] = None
                continue
            b = self.snap.get(qid, (0.0,) * 6)
            d = [e - s for e, s in zip(row, b, strict=True)]
            calls = int(round(d[0]))
            made[qid] = None if calls <= 0 else Resources(
                shared_hit=d[1] / calls, shared_read=d[2] / calls, temp_written=d[3] / calls, wal_bytes=d[4] / calls,
                server_ms=d[5] / calls, calls=calls, shared=count)
        for q in results:
            qid = ids.get(q.sql)
            res = made.get(qid) if qid is not None else None
            if res is None:
                self.known.pop(q.sql, None)  # planned again next run (a table created since, a DDL)
            else:
                q.resources = res
        return results


def session_settings(base: dict[str, str], on: bool) -> dict[str, str]:
    """The workers' session settings with (or without) ``pg_stat_statements.track = all``,
    first: set before a ``SET ROLE`` / ``SET SESSION AUTHORIZATION`` of the user's takes the
    superuser's right to set it away (it stays set under the new role)."""
    out = {TRACK: "all"} if on else {}
    out.update((k, v) for k, v in base.items() if k != TRACK)
    return out


# -- rendering ------------------------------------------------------------------------
def compact(x: float) -> str:
    """1234 -> '1.2k', 2500000 -> '2.5M'; an average below 10 keeps one decimal."""
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.1f}G"
    if a >= 1e6:
        return f"{x / 1e6:.1f}M"
    if a >= 1e4:
        return f"{x / 1e3:.0f}k"
    if a >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}" if float(x).is_integer() or a >= 10 else f"{x:.1f}"


def size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def line(q: QueryResult) -> str:
    """'   resources server 5.5 ms · client +0.3 ms · shared hit 120 read 30 · temp 0 · WAL 0 B'."""
    r = q.resources
    if r is None:
        return ""
    client = q.total_s * 1000 - r.server_ms
    parts = [f"server {r.server_ms:.1f} ms", f"client {client:+.1f} ms",
             f"shared hit {compact(r.shared_hit)} read {compact(r.shared_read)}",
             f"temp written {compact(r.temp_written)}", f"WAL {size(r.wal_bytes)}"]
    if not r.exact:
        parts.append(f"average of {r.calls} calls ({r.shared} staged)")
    return "   resources " + " · ".join(parts)


HEADERS = ["srv ms", "hit", "read", "temp", "wal"]


def cells(q: QueryResult) -> list[str]:
    r = q.resources
    if r is None:
        return ["-"] * len(HEADERS)
    mark = "" if r.exact else "~"
    return [f"{mark}{r.server_ms:.1f}", compact(r.shared_hit), compact(r.shared_read), compact(r.temp_written),
            size(r.wal_bytes).replace(" ", "")]


def totals(results: Iterable[QueryResult]) -> dict | None:
    """The run record's sums over its queries (None when no query has figures)."""
    rs = [q.resources for q in results if q.resources is not None]
    if not rs:
        return None
    return {"source": "pg_stat_statements", "queries": len(rs),
            "shared_hit": _num(sum(r.shared_hit for r in rs)), "shared_read": _num(sum(r.shared_read for r in rs)),
            "temp_written": _num(sum(r.temp_written for r in rs)), "wal_bytes": _num(sum(r.wal_bytes for r in rs)),
            "server_ms": round(sum(r.server_ms for r in rs), 3)}
