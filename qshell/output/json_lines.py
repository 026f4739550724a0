"""Result records -> JSON lines (``--format json``): one record per query and per run, and their encoder.

Never touches the database.
"""
from __future__ import annotations

from typing import Mapping

from qshell.common.secrets import without_passwords
from qshell.common.visible import json_str, json_text
from qshell.output.run_summary import failures_by_sqlstate, host_rows
from qshell.output.styles import JSON_SCHEMA_VERSION
from qshell.records.results import QueryResult, RunResult, Server, Status


# -- JSON lines ----------------------------------------------------------------
def query_record(q: QueryResult, run_id: str | None, rows: bool = True, slowdown: float | None = None) -> dict:
    rec: dict[str, object] = {
        "type": "query" if run_id is not None else "statement",
        "run_id": run_id,
        "index": q.index,
        "sql": without_passwords(q.sql),
        "status": str(q.status),
        "worker": q.worker,
        "pid": q.pid,
        "host": q.server.host if q.server else None,
        "standby": q.server.standby if q.server else None,
        "command": q.command,
        "columns": [{"name": c.name, "type_oid": c.type_oid} for c in q.columns],
        "rowcount": q.rowcount,
        "error": q.error,
        "sqlstate": q.sqlstate,
        "retries": q.retries,
        "wait_ms": round(q.wait_s * 1000, 3),
        "exec_ms": round(q.exec_s * 1000, 3),
        "fetch_ms": round(q.fetch_s * 1000, 3),
        "total_ms": round(q.total_s * 1000, 3),
        "start_ms": round(q.start_s * 1000, 3),
        "end_ms": round(q.end_s * 1000, 3),
    }
    if q.pool_wait_s is not None:  # behind a transaction pooler: its wait for a backend
        rec["pool_wait_ms"] = round(q.pool_wait_s * 1000, 3)
    rec.update(waits=[{"event": name, "share": round(share, 4)} for name, share in q.waits],
               blocked_by=[{"by": who, "ms": round(t * 1000, 3)} for who, t in q.blocked_by],
               notices=list(q.notices))
    d = q.diag
    rec.update(detail=d.detail if d else None, hint=d.hint if d else None, context=d.context if d else None,
               position=d.position if d else None)
    if slowdown is not None:
        rec["slowdown"] = round(slowdown, 4)
    if q.resources is not None:
        rec["resources"] = q.resources.record()
    elif q.no_resources:
        rec["no_resources"] = q.no_resources
    if q.plan is not None:
        rec["workers_planned"] = q.plan.workers_planned
        rec["workers_launched"] = q.plan.workers_launched
        rec["plan"] = q.plan.record()
    elif q.no_plan:
        rec["no_plan"] = q.no_plan
    if rows:
        rec["rows"] = [list(r) for r in q.rows]
        rec["truncated"] = q.truncated
    return rec


def run_record(run: RunResult, run_id: str) -> dict:
    # RunResult's figures, each pass over the queries made once (50,000 queries: 5 passes saved)
    times = [q.total_s for q in run.queries]
    sum_s = sum(times)
    bound_s = max(max(times), sum_s / run.parallel) if times else 0.0
    waited = run.pool_wait_s
    wall = run.wall_s
    failed = sum(1 for q in run.queries if q.status is not Status.OK)
    return {
        "type": "run",
        "schema": JSON_SCHEMA_VERSION,
        "run_id": run_id,
        "n": run.n,
        "queries": len(run.queries),
        "ok": len(run.queries) - failed,
        "failed": failed,
        "interrupted": run.interrupted,
        "started_at": run.started_at,
        "wall_ms": round(wall * 1000, 3),
        "sum_ms": round(sum_s * 1000, 3),
        "overlap": round(sum_s / wall if wall > 0 else 0.0, 4),
        "bound_ms": round(bound_s * 1000, 3),
        "efficiency": round(bound_s / wall if wall > 0 else 0.0, 4),
        "servers": run.servers,
        "pool_wait_ms": None if waited is None else {"total": round(waited[0] * 1000, 3), "max": round(waited[1] * 1000, 3)},
        "mode": run.mode,
        "order": run.order,
        "samples": run.samples,
        "client_cpu": round(run.client_cpu, 4),
        "client_bound": run.client_bound,
        "cpu": run.cpu.record() if run.cpu is not None else None,
        "hosts": host_rows(run),
        **_conflict_record(run),
        **why_slow_totals(run),
    }


def _conflict_record(run: RunResult) -> dict:
    from qshell.records.conflicts import lock_records, wait_series_record

    return {"retries": sum(q.retries for q in run.queries), "failures": failures_by_sqlstate(run),
            **lock_records(run.lock_waits, run.deadlocks, run.sessions), "wait_series": wait_series_record(run.wait_series)}


def why_slow_totals(run: RunResult) -> dict:
    """The run record's sums of resources and parallel workers (nothing when not measured)."""
    out: dict[str, object] = {}
    if any(q.resources is not None for q in run.queries):
        from qshell.engine.resources import totals

        out["resources"] = totals(run.queries)
    plans = [q.plan for q in run.queries if q.plan is not None]
    if plans:
        out["workers_planned"] = sum(p.workers_planned for p in plans)
        out["workers_launched"] = sum(p.workers_launched for p in plans)
    return out


_encode = json_text  # compact, non-ASCII kept, no control character raw (C1 as \u009b)
_encode_str = json_str  # a str as JSON, escaped the same way


def json_line(obj: dict) -> str:
    return _encode(obj)


class RecordEncoder:
    """Query records as JSON text, each built once: ``head(q)`` is the record without its
    rows (what the run history keeps), ``line(head, q)`` the output line with them. The
    text is ``json_line(query_record(q, run_id, rows, slowdown))`` built without the
    intermediate dict (at 50,000 records, the dict and its encoding cost twice as much),
    its times written with exactly 3 decimals (``0.500``: the same numbers)."""

    _NO_ERROR = '"error":null,"sqlstate":null,"retries":0,'
    _NOTHING = '"waits":[],"blocked_by":[],"notices":[],"detail":null,"hint":null,"context":null,"position":null'

    def __init__(self, run_id: str | None, slow: Mapping[int, float] | None = None) -> None:
        kind = "query" if run_id is not None else "statement"
        self._start = f'{{"type":"{kind}","run_id":{_str(run_id)},"index":'
        self._run_id = run_id
        self._res: object = None  # the last Resources encoded, and its JSON
        self._res_text = ""
        self._slow = slow or {}
        self._texts: dict[str, str] = {}  # SQL texts and command tags as JSON (a run repeats them)
        self._columns: dict[tuple, str] = {}
        self._rows: dict[tuple, str] = {}
        self._servers: dict[Server | None, str] = {}

    def _text(self, value: str) -> str:
        text = self._texts.get(value)
        if text is None:
            text = _encode_str(value)
            if len(self._texts) < 1024:
                self._texts[value] = text
        return text

    def _server(self, server: Server | None) -> str:
        """``"host":…,"standby":…,`` (one text per server: a run has a few)."""
        text = self._servers.get(server)
        if text is None:
            text = self._servers[server] = ('"host":null,"standby":null,' if server is None else
                                            f'"host":{_encode_str(server.host)},"standby":{"true" if server.standby else "false"},')
        return text

    def _cols(self, columns: tuple) -> str:
        text = self._columns.get(columns)
        if text is None:
            text = _encode([{"name": c.name, "type_oid": c.type_oid} for c in columns])
            if len(self._columns) < 256:
                self._columns[columns] = text
        return text

    def head(self, q: QueryResult) -> str:
        """The record without ``rows`` and ``truncated``."""
        if q.error is None and q.sqlstate is None and not q.retries:
            error = self._NO_ERROR
        else:
            error = f'"error":{_str(q.error)},"sqlstate":{_str(q.sqlstate)},"retries":{q.retries},'
        d = q.diag
        if d is None and not q.waits and not q.blocked_by and not q.notices:
            rest = self._NOTHING
        else:
            waits = _encode([{"event": name, "share": round(share, 4)} for name, share in q.waits])
            blocked = _encode([{"by": who, "ms": round(t * 1000, 3)} for who, t in q.blocked_by])
            diag = ('"detail":null,"hint":null,"context":null,"position":null' if d is None else
                    f'"detail":{_str(d.detail)},"hint":{_str(d.hint)},"context":{_str(d.context)},'
                    f'"position":{_int(d.position)}')
            rest = f'"waits":{waits},"blocked_by":{blocked},"notices":{_encode(list(q.notices))},{diag}'
        slowdown = self._slow.get(q.index) if self._slow else None
        worker, pid, exec_s, fetch_s = q.worker, q.pid, q.exec_s, q.fetch_s
        pool = "" if q.pool_wait_s is None else f'"pool_wait_ms":{q.pool_wait_s * 1000:.3f},'
        if q.plan is not None:
            return self._why_slow(q, slowdown)
        head = (f'{self._start}{q.index},"sql":{self._text(without_passwords(q.sql))},"status":"{q.status._value_}",'
                f'"worker":{"null" if worker is None else worker},"pid":{"null" if pid is None else pid},'
                f'{self._server(q.server)}"command":{self._text(q.command)},"columns":{self._cols(q.columns) if q.columns else "[]"},'
                f'"rowcount":{q.rowcount},{error}'
                f'"wait_ms":{q.wait_s * 1000:.3f},"exec_ms":{exec_s * 1000:.3f},"fetch_ms":{fetch_s * 1000:.3f},'
                f'"total_ms":{(exec_s + fetch_s) * 1000:.3f},"start_ms":{q.start_s * 1000:.3f},'
                f'"end_ms":{q.end_s * 1000:.3f},{pool}{rest}'
                + ("}" if slowdown is None else f',"slowdown":{round(slowdown, 4)!r}}}'))
        res = q.resources
        if res is None and q.no_resources is None and q.no_plan is None:
            return head
        if res is None:
            why = f',"no_resources":{_encode_str(q.no_resources)}' if q.no_resources else ""
        else:
            if res is not self._res:  # the queries of one pg_stat_statements entry share one object
                self._res, self._res_text = res, _encode(res.record())
            why = f',"resources":{self._res_text}'
        if q.no_plan:
            why += f',"no_plan":{_encode_str(q.no_plan)}'
        return f"{head[:-1]}{why}}}"

    def _why_slow(self, q: QueryResult, slowdown: float | None) -> str:
        """The record of a query with a plan (EXPLAIN ANALYZE runs are slow anyway: built as a dict)."""
        return _encode(query_record(q, self._run_id, rows=False, slowdown=slowdown))

    def line(self, head: str, q: QueryResult) -> str:
        """The output line: ``head`` with the rows kept and whether rows were left out."""
        rows = q.rows
        if not rows:
            text = "[]"
        elif len(rows) == 1 and len(rows[0]) == 1 and (rows[0][0] is None or len(rows[0][0]) <= 32):
            known = self._rows.get(rows)  # one short value (SELECT 1, a count): often the same again
            if known is None:
                known = _encode(rows)
                if len(self._rows) < 256:
                    self._rows[rows] = known
            text = known
        else:
            text = _encode(rows)
        return f'{head[:-1]},"rows":{text},"truncated":{"true" if q.rowcount > len(q.rows) else "false"}}}'


def _str(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def _int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def run_json(run: RunResult, run_id: str, slow: Mapping[int, float] | None = None) -> str:
    """A run as JSON lines: each query's record, then the run's."""
    enc = RecordEncoder(run_id, slow)
    lines = [enc.line(enc.head(q), q) for q in run.queries]
    lines.append(json_line(run_record(run, run_id)))
    return "\n".join(lines)
