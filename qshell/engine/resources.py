"""Resources per staged query (``\\set resources``): a ``pg_stat_statements`` delta.

Source and method (see README, "Resources per query"):

- Before a run, each distinct staged text is planned once, never executed: a text of
  one statement EXPLAIN takes (the lexer, ``sqlsplit.split``, decides) as ``EXPLAIN
  (VERBOSE, FORMAT JSON)`` without ANALYZE on a worker's connection (the user's session
  settings, search_path included): its "Query Identifier" is the ``queryid``
  ``pg_stat_statements`` files its executions under. All new texts are planned in one
  transaction that is read only (``SET TRANSACTION READ ONLY`` before any EXPLAIN) and
  rolled back, each waiting at most ``LOCK_TIMEOUT_MS`` for a lock (1 ms once the
  waits reach ``LOCK_BUDGET_MS``), none started after ``PLAN_BUDGET_MS``, and the whole
  batch cancelled by a ``statement_timeout`` past that: a locked table costs a short
  wait, never the run. A text of several statements (a ``\\;`` group) is not planned at
  all, piece by piece or whole: planning it would send its other statements to the
  server. Utility statements (``CREATE``, ``VACUUM``…) have no queryid either. Each of
  those queries says why it has no figures (``no_resources``).
- The workers run with ``pg_stat_statements.track = all`` (a superuser-only setting,
  given like the user's own settings; or already ``all`` server-wide): the engine sends
  each staged text as written, which ``top`` records, but under ``\\set explain analyze``
  the statement runs nested in its ``EXPLAIN ANALYZE``, which only ``all`` records.
  qshell's own EXPLAINs would be recorded under it too (a nested call, with ``all``):
  the planning transaction sets ``track`` to ``none`` when it may, and is over before
  the first snapshot anyway.
- Right before and right after the run, one query on the side connection reads
  calls, shared blocks hit / read, temp blocks written, WAL bytes and execution time of
  those queryids (this database, every user); the difference is the run's.

What it cannot see: the executions of one queryid are one entry, so staged queries
whose texts differ only in constants (or are the same) share their figures (the entry's
total divided by its calls: an average; ``shared`` says how many staged queries),
and other sessions running the same query during the run are counted in (``calls``
above the staged count says so); the client time of such a query is unknown (an
average is not subtracted from one run's time). A SELECT run in ``\\set tx rollback``
(its cursor dropped by the rollback) is not recorded at all; a failed statement neither.
Planning time is not in ``server_ms`` (``pg_stat_statements.track_planning`` is off by
default). PostgreSQL 18's per-backend ``pg_stat_get_backend_io(pid)`` /
``pg_stat_get_backend_wal(pid)`` see every statement of a backend, not of a query (a
worker runs several), and are flushed lazily: not used.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Sequence

import psycopg2
import psycopg2.errors

from qshell.common.errors import QshellError
from qshell.common.visible import visible
from qshell.engine.database import TRACK
from qshell.records.resources import Resources, _num  # noqa: F401  (the record, re-exported)
from qshell.script.sqlsplit import first_keyword, split, strip_comments_head

if TYPE_CHECKING:  # pragma: no cover
    from qshell.engine.database import Database
    from qshell.records.results import QueryResult

# statements EXPLAIN takes (the others, utility statements, have no queryid to find)
EXPLAINABLE = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE"})
LOCK_TIMEOUT_MS = 50  # planning one text waits at most this long for a table's lock (someone's ALTER TABLE)
LOCK_BUDGET_MS = 250  # once the texts' lock waits reach this, the others wait 1 ms
PLAN_BUDGET_MS = 2000  # no text is planned once the batch has taken this long (planned at the next run)
HARD_TIMEOUT_MS = PLAN_BUDGET_MS + 1000  # the batch's statement_timeout (one text's planning past the budget)

HOW_TO_ENABLE = ("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', restart the server,"
                 " then CREATE EXTENSION pg_stat_statements (the sandbox does this)")

# why a query has no figures (its ``no_resources``); the first two hold for a text for good
SEVERAL = "several statements"
UTILITY = "utility statement"
NO_STATEMENT = "no statement"
LOCKED = "a table was locked while planning"
OVER_BUDGET = f"not planned: planning the staged texts took over {PLAN_BUDGET_MS / 1000:g} s"
TIMED_OUT = "planning it took too long"
NO_QUERYID = "the server gives no queryid (compute_query_id is off)"
NOT_RECORDED = "not recorded by pg_stat_statements during the run"
NOT_COMPLETED = "not recorded: the statement did not complete"
READ_FAILED = "reading pg_stat_statements failed"
_PERMANENT = frozenset({SEVERAL, UTILITY, NO_STATEMENT})  # kept across runs, like queryids


def unplannable(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "an error"
    return f"it could not be planned before the run: {first}"


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


# -- which texts may be planned ------------------------------------------------------------
def statement_count(sql: str, std_strings: bool = True) -> int:
    """Statements in ``sql`` as the lexer splits it (a ``\\;`` group: several); comments alone
    are none."""
    s = split(sql, std_strings=std_strings)
    parts = (*s.statements, s.rest)
    return sum(1 for p in parts if strip_comments_head(p).strip())


@lru_cache(maxsize=4096)
def refusal(sql: str, std_strings: bool = True) -> str | None:
    """Why ``sql`` is not planned before its run (several statements, a utility
    statement), or None: one statement EXPLAIN takes. Cached per text."""
    count = statement_count(sql, std_strings)
    if count > 1:
        return SEVERAL
    if count == 0:
        return NO_STATEMENT
    if first_keyword(sql) not in EXPLAINABLE:
        return UTILITY
    return None


def _why(sqlstate: str | None, message: str) -> str:
    if sqlstate == "55P03":
        return LOCKED
    if sqlstate == "57014":
        return TIMED_OUT
    return unplannable(message)


def _queryid(plan) -> int | str:  # noqa: ANN001
    if isinstance(plan, str):
        plan = json.loads(plan)
    qid = plan[0].get("Query Identifier") if plan else None
    return int(qid) if qid else NO_QUERYID


# Every new text planned in one round trip (a remote server: one RTT, not one per text), in
# one transaction: a temporary function of the worker's session made in it (rolled back
# with it: nothing is left in the database), then SET TRANSACTION READ ONLY, then the
# EXPLAINs. Each EXPLAIN is a subtransaction (its error, its locks' wait, are its own).
# qshell's EXPLAINs are nested statements that track = all would record under the
# queryid: set to none first where the user may (a superuser).
_FUNCTION = """CREATE OR REPLACE FUNCTION pg_temp.qshell_queryids(texts text[], budget_ms float8, lock_budget_ms float8)
RETURNS SETOF text LANGUAGE plpgsql AS $qshell$
DECLARE
  q text;
  plan json;
  t0 timestamptz := clock_timestamp();
  t1 timestamptz;
  waited float8 := 0;
BEGIN
  BEGIN
    PERFORM set_config('pg_stat_statements.track', 'none', true);
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  FOREACH q IN ARRAY texts LOOP
    IF extract(epoch FROM clock_timestamp() - t0) * 1000 > budget_ms THEN
      RETURN NEXT 'B';
      CONTINUE;
    END IF;
    t1 := clock_timestamp();
    BEGIN
      EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || q INTO plan;
      RETURN NEXT 'Q' || coalesce(plan -> 0 ->> 'Query Identifier', '');
    EXCEPTION WHEN OTHERS THEN
      IF SQLSTATE = '55P03' THEN
        waited := waited + extract(epoch FROM clock_timestamp() - t1) * 1000;
        IF waited >= lock_budget_ms THEN
          PERFORM set_config('lock_timeout', '1ms', true);
        END IF;
      END IF;
      RETURN NEXT 'E' || SQLSTATE || SQLERRM;
    END;
  END LOOP;
END
$qshell$"""
_LIMITS = (f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'; SET LOCAL statement_timeout = '{HARD_TIMEOUT_MS}ms'")
_BATCH = (f"BEGIN TRANSACTION NOT DEFERRABLE; {_LIMITS}; {_FUNCTION}; SET TRANSACTION READ ONLY; "
          "SELECT r FROM pg_temp.qshell_queryids(%s::text[], %s, %s) WITH ORDINALITY AS u(r, i) ORDER BY i")
_QUIET = ("DO $qshell$BEGIN PERFORM set_config('pg_stat_statements.track', 'none', true);"
          " EXCEPTION WHEN OTHERS THEN NULL; END$qshell$")


def _rollback(cur) -> None:  # noqa: ANN001
    if not cur.connection.closed:
        cur.execute("ROLLBACK")


def plan_texts(cur, texts: Sequence[str], *, std_strings: bool = True,  # noqa: ANN001
               one_by_one: bool = False) -> dict[str, int | str]:
    """Each text's queryid (from ``EXPLAIN (VERBOSE)`` without ANALYZE: never executed), or
    why it has none. ``cur``: an idle autocommit connection's. Texts of several statements
    and utility statements are not sent at all. In one round trip (see ``_BATCH``), or one
    text at a time (``one_by_one``, and where no temporary function can be made: a
    read-only session, a standby), each in a read-only transaction rolled back, with the
    same limits. ``std_strings``: the server's ``standard_conforming_strings``."""
    out: dict[str, int | str] = {}
    todo = []
    for t in texts:
        why = refusal(t, std_strings)
        if why is None:
            todo.append(t)
        else:
            out[t] = why
    if not todo:
        return out
    start = time.monotonic()
    if not one_by_one:
        try:
            cur.execute(_BATCH, (todo, PLAN_BUDGET_MS, LOCK_BUDGET_MS))
            rows = cur.fetchall()
        except psycopg2.errors.QueryCanceled:  # the batch's statement_timeout
            _rollback(cur)
            out.update((t, TIMED_OUT) for t in todo)
            return out
        except psycopg2.Error:
            if cur.connection.closed:
                raise
            _rollback(cur)  # no temporary function here: one by one
        else:
            _rollback(cur)
            for text, (r,) in zip(todo, rows, strict=True):
                if r == "B":
                    out[text] = OVER_BUDGET
                elif r.startswith("Q"):
                    out[text] = int(r[1:]) if r[1:] else NO_QUERYID
                else:
                    out[text] = _why(r[1:6], r[6:])
            return out
    out.update(_one_by_one(cur, todo, start))
    return out


def _one_by_one(cur, todo: Sequence[str], start: float) -> dict[str, int | str]:  # noqa: ANN001
    out: dict[str, int | str] = {}
    waited = 0.0
    lock_ms = LOCK_TIMEOUT_MS
    for text in todo:
        if (time.monotonic() - start) * 1000 > PLAN_BUDGET_MS:
            out[text] = OVER_BUDGET
            continue
        t1 = time.monotonic()
        try:
            # one statement (refusal), sent after the transaction is read only
            cur.execute(f"BEGIN TRANSACTION READ ONLY, NOT DEFERRABLE; SET LOCAL lock_timeout = '{lock_ms}ms';"
                        f" SET LOCAL statement_timeout = '{HARD_TIMEOUT_MS}ms'; {_QUIET};"
                        " EXPLAIN (VERBOSE, FORMAT JSON) " + text)
            out[text] = _queryid(cur.fetchone()[0])
        except psycopg2.Error as exc:
            if cur.connection.closed:
                raise
            out[text] = _why(exc.pgcode, exc.diag.message_primary or str(exc))
            if exc.pgcode == "55P03":
                waited += (time.monotonic() - t1) * 1000
                if waited >= LOCK_BUDGET_MS:
                    lock_ms = 1
        finally:
            _rollback(cur)
    return out


class Tracker:
    """One run's resources: ``before()`` (queryids, first snapshot), ``after(results)``."""

    def __init__(self, db: Database, found: Probe, known: dict[str, int | str]) -> None:
        self.db = db
        self.probe = found
        # text -> queryid or a lasting reason for none, kept by the shell across runs (a queryid
        # for which a run recorded nothing is dropped: planned again at the next run)
        self.known = known
        self.ids: dict[str, int | str] = {}  # text -> queryid, or why it has none
        self.snap: dict[int, tuple] = {}
        self.error: str | None = None

    def before(self, queries: Sequence[str], n: int) -> None:
        """Plan the texts not planned yet on one worker connection (before the wall), then snapshot."""
        wanted = [q for q in dict.fromkeys(queries) if q not in self.known]
        planned: dict[str, int | str] = {}
        if wanted:
            from qshell.engine.execute import settle

            self.db.ensure_pool(n)
            fairy = self.db.checkout()
            try:
                conn = fairy.dbapi_connection
                std = conn.info.parameter_status("standard_conforming_strings") != "off"
                planned = plan_texts(conn.cursor(), wanted, std_strings=std)
            except psycopg2.Error as exc:
                fairy.invalidate()
                planned = {t: unplannable(str(exc)) for t in wanted}
            finally:
                settle(fairy, worker=True)
                fairy.close()
            self.known.update((t, v) for t, v in planned.items() if isinstance(v, int) or v in _PERMANENT)
        known = self.known
        self.ids = {q: known[q] if q in known else planned[q] for q in dict.fromkeys(queries)}
        self.snap = self._snapshot()

    def _snapshot(self) -> dict[int, tuple]:
        ids = sorted({i for i in self.ids.values() if isinstance(i, int)})
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

    def _unrecorded(self, q: QueryResult) -> str:
        from qshell.records.results import Status

        if q.status is not Status.OK:
            return NOT_COMPLETED
        return NOT_RECORDED

    def after(self, results: Iterable[QueryResult]) -> list[QueryResult]:
        """``results`` with their ``resources``, or their ``no_resources`` (why none: not
        planned, or no execution recorded).

        The results are this run's own, not yet handed to anyone: their ``resources`` is set
        in place (a ``dataclasses.replace`` per query cost a third of the throughput of
        20,000 ``SELECT 1`` at N=8); the queries of one entry share one ``Resources`` (a
        query's own gets its client time)."""
        results = list(results)
        ids = self.ids
        end = self._snapshot() if self.error is None and any(isinstance(i, int) for i in ids.values()) else {}
        if self.error is not None:
            for q in results:
                q.no_resources = READ_FAILED
            return results
        staged: dict[int, int] = {}
        for q in results:
            qid = ids.get(q.sql)
            if isinstance(qid, int):
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
            if not isinstance(qid, int):
                q.no_resources = qid
                continue
            res = made.get(qid)
            if res is None:
                self.known.pop(q.sql, None)  # planned again next run (a table created since, a DDL)
                q.no_resources = self._unrecorded(q)
            elif res.exact:  # its own figures (one query on its entry): its client time
                client = q.total_s * 1000 - res.server_ms
                q.resources = replace(res, client_ms=client) if client >= 0 else res
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
    """'   resources server 5.5 ms · client +0.3 ms · shared hit 120 read 30 · temp 0 · WAL 0 B';
    'server 155.0 ms (avg of 2 calls)' when the entry is not its own; 'client ? (why)' when unknown; '   resources: no figures: several statements'."""
    r = q.resources
    if r is None:
        # (the reason may quote the server's error, the user's text within it: escaped)
        return f"   resources: no figures: {visible(q.no_resources)}" if q.no_resources else ""
    client = f"client {r.client_ms:+.1f} ms" if r.client_ms is not None else f"client ? ({r.client_unknown})"
    server = f"server {r.server_ms:.1f} ms" + ("" if r.exact else f" ({r.basis})")
    parts = [server, client,
             f"shared hit {compact(r.shared_hit)} read {compact(r.shared_read)}",
             f"temp written {compact(r.temp_written)}", f"WAL {size(r.wal_bytes)}"]
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
