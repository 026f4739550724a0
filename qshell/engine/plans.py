"""Plans under concurrency (``\\set explain analyze``).

Each staged text of one statement EXPLAIN takes (SELECT, WITH, VALUES, TABLE, INSERT,
UPDATE, DELETE, MERGE) is sent, in its run and instead of the text, as ``EXPLAIN
(ANALYZE, BUFFERS, FORMAT JSON) <sql>``: it is executed once, there and only there — a
data-modifying statement too, committed unless ``\\set tx rollback`` — and its plan comes
back instead of its rows. Nothing is planned or executed before the run. The result
keeps the statement's own text; its ``plan`` holds the key figures: execution and
planning time, rows, the top plan nodes, buffers and temp I/O (the top node's, which
include its children's), and the parallel workers planned and launched, summed over the
plan's Gather / Gather Merge nodes (``max_parallel_workers`` is shared by every session:
at N=8 some get none). Other texts run as they are, without a plan, and say why
(``no_plan``): a utility statement, or several statements (a ``\\;`` group: the
simple-query protocol would EXPLAIN only the first and run the others plainly).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from qshell.engine.resources import compact, refusal
from qshell.records.plans import Node, Plan

if TYPE_CHECKING:  # pragma: no cover
    from qshell.records.results import QueryResult

PREFIX = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
TOP_NODES = 6  # plan nodes kept, depth first from the top


def explainable(sql: str) -> bool:
    """One statement (the lexer says), of a kind EXPLAIN takes."""
    return refusal(sql) is None


def wrap(queries: Sequence[str]) -> list[str]:
    """What the workers are sent: each explainable statement inside EXPLAIN ANALYZE, in
    place of the statement (the others as they are)."""
    return [PREFIX + q if explainable(q) else q for q in queries]


def _walk(node: dict, depth: int, out: list[dict]) -> None:
    out.append({**node, "_depth": depth})
    for child in node.get("Plans", ()) or ():
        _walk(child, depth + 1, out)


def _kind(node: dict) -> str:
    kind = node.get("Node Type", "?")
    if node.get("Partial Mode") and node.get("Partial Mode") != "Simple":
        kind = f"{node['Partial Mode']} {kind}"
    if node.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    if node.get("Relation Name"):
        kind += f" on {node['Relation Name']}"
    elif node.get("Index Name"):
        kind += f" using {node['Index Name']}"
    return kind


def summarize(doc: Any) -> Plan:
    """The key figures of one ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` document."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    top = doc[0] if isinstance(doc, list) else doc
    root = top["Plan"]
    nodes: list[dict] = []
    _walk(root, 0, nodes)
    planned = launched = 0
    kept: list[Node] = []
    for n in nodes:
        workers = None
        if n.get("Node Type") in ("Gather", "Gather Merge"):
            workers = (int(n.get("Workers Planned", 0)), int(n.get("Workers Launched", 0)))
            planned += workers[0]
            launched += workers[1]
        if len(kept) < TOP_NODES:
            kept.append(Node(n["_depth"], _kind(n), float(n.get("Actual Total Time", 0.0)),
                             float(n.get("Actual Rows", 0)), int(n.get("Actual Loops", 1)), workers))
    return Plan(total_ms=float(top.get("Execution Time", 0.0)), planning_ms=float(top.get("Planning Time", 0.0)),
                rows=int(root.get("Actual Rows", 0)), shared_hit=int(root.get("Shared Hit Blocks", 0)),
                shared_read=int(root.get("Shared Read Blocks", 0)), temp_read=int(root.get("Temp Read Blocks", 0)),
                temp_written=int(root.get("Temp Written Blocks", 0)), workers_planned=planned,
                workers_launched=launched, nodes=tuple(kept))


def unwrap(results: Iterable[QueryResult], queries: Sequence[str]) -> list[QueryResult]:
    """Results of wrapped statements as results of the statements themselves: the staged
    text, the plan's figures, its top node's row count, no rows (EXPLAIN returned a plan).
    The others (this run's own results) get their ``no_plan``, in place."""
    out = []
    for q in results:
        original = queries[q.index - 1] if 0 < q.index <= len(queries) else q.sql
        if q.sql == original:  # not wrapped
            q.no_plan = refusal(original)
            out.append(q)
            continue
        diag = q.diag
        if diag is not None and diag.position is not None:  # positions in the staged text
            diag = replace(diag, position=diag.position - len(PREFIX) if diag.position > len(PREFIX) else None)
        plan = None
        if q.rows and q.rows[0] and q.rows[0][0]:
            try:
                plan = summarize(q.rows[0][0])
            except (ValueError, KeyError, TypeError, IndexError):
                plan = None
        if plan is None:
            out.append(replace(q, sql=original, diag=diag))
            continue
        out.append(replace(q, sql=original, diag=diag, columns=(), rows=(), rowcount=plan.rows,
                           command=f"EXPLAIN ANALYZE {plan.rows} {'row' if plan.rows == 1 else 'rows'}", plan=plan))
    return out


# -- rendering ------------------------------------------------------------------------
def workers_cell(p: Plan | None) -> str:
    return f"{p.workers_launched}/{p.workers_planned}" if p is not None and p.parallel else ""


def lines(q: QueryResult) -> list[str]:
    """The plan under a query's header: its figures, then its top nodes as a tree."""
    p = q.plan
    if p is None:
        return [f"   plan: none: {q.no_plan} (run as it is)"] if q.no_plan else []
    head = [f"plan {p.total_ms:.1f} ms (planning {p.planning_ms:.1f} ms)", f"{p.rows} {'row' if p.rows == 1 else 'rows'}",
            f"shared hit {compact(p.shared_hit)} read {compact(p.shared_read)}",
            f"temp read {compact(p.temp_read)} written {compact(p.temp_written)}"]
    if p.parallel:
        short = " — fewer than planned" if p.workers_launched < p.workers_planned else ""
        head.append(f"workers {p.workers_launched} launched of {p.workers_planned} planned{short}")
    out = ["   " + " · ".join(head)]
    for n in p.nodes:
        extra = f" · workers {n.workers[1]}/{n.workers[0]}" if n.workers else ""
        loops = f" × {n.loops} loops" if n.loops > 1 else ""
        out.append(f"   {'  ' * (n.depth + 1)}{n.kind}  {n.ms:.1f} ms · rows {compact(n.rows)}{loops}{extra}")
    return out


def _plan_of(rec: dict) -> dict | None:
    plan = rec.get("plan")
    return plan if isinstance(plan, dict) else None


def _changed(x: float, y: float) -> bool:
    """Worth naming: at least 100 blocks and a quarter apart (noise between runs is not)."""
    return max(x, y) >= 100 and abs(x - y) >= 0.25 * max(x, y)


def difference(a: dict, b: dict) -> str:
    """How query record ``b``'s plan (and resources) differ from ``a``'s, in a few words:
    'workers 2 → 0 of 2 · Parallel Seq Scan → Seq Scan · temp 0 → 1.2k'."""
    parts = []
    pa, pb = _plan_of(a), _plan_of(b)
    if pa is not None and pb is not None:
        wa, wb = pa.get("workers_launched", 0), pb.get("workers_launched", 0)
        ppa, ppb = pa.get("workers_planned", 0), pb.get("workers_planned", 0)
        if (wa, ppa) != (wb, ppb):
            parts.append(f"workers {wa}/{ppa} → {wb}/{ppb}")
        ka = [n.get("node") for n in pa.get("nodes", [])]
        kb = [n.get("node") for n in pb.get("nodes", [])]
        if ka != kb:
            gone = [k for k in ka if k not in kb]
            new = [k for k in kb if k not in ka]
            if gone or new:
                parts.append(f"{', '.join(gone) or '-'} → {', '.join(new) or '-'}")
            else:
                parts.append("plan shape changed")
        for key, label in (("temp_written", "temp"), ("shared_read", "read")):
            x, y = pa.get(key, 0), pb.get(key, 0)
            if _changed(x, y):
                parts.append(f"{label} {compact(x)} → {compact(y)}")
    elif (pa is None) != (pb is None):
        parts.append("plan in one run only")
    ra, rb = a.get("resources"), b.get("resources")
    if isinstance(ra, dict) and isinstance(rb, dict) and pa is None:
        for key, label in (("shared_read", "read"), ("temp_written", "temp")):
            x, y = ra.get(key, 0), rb.get(key, 0)
            if _changed(x, y):
                parts.append(f"{label} {compact(x)} → {compact(y)}")
    return " · ".join(parts)
