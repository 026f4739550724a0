"""The sections of one run's page: header, timeline, waits, queries, hosts, failures, conflicts, SQL, CPU, why-is-it-slow."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from qshell.output.report.basics import SQL_FULL_MAX, Doc, _slug, esc, pct
from qshell.output.report.cells import (
    FORMATS,
    RUN_KNOWN,
    Cell,
    _cards,
    _is_number,
    _sql_td,
    _table,
    _who_html,
    fig,
    overlap_key,
    queries_table,
    value_html,
)
from qshell.output.report.charts import deadlock_svg, lock_graph_svg, timeline_legend, timeline_svg, waits_svg


# -- sections ----------------------------------------------------------------------------
def run_header(doc: Doc, base: str = "") -> str:
    ok = overlap_key(doc)
    cards = [
        ("N (workers)", fig(doc.get("n"), f"{base}n", "int"), ""),
        ("queries", Cell(f'<span data-key="{esc(base)}queries" data-fmt="int">{esc(doc.get("queries"))}</span>'
                         + (f' · <span data-key="{esc(base)}failed" data-fmt="int">{esc(doc.get("failed"))}</span> not ok'
                            if doc.get("failed") else "")), "bad" if doc.get("failed") else ""),
        ("mode", str(doc.get("mode") or ""), ""),
        ("order", str(doc.get("order") or ""), ""),
        ("wall", fig(doc.get("wall_ms"), f"{base}wall_ms", "dur"), "main"),
        ("sum of query times", fig(doc.get("sum_ms"), f"{base}sum_ms", "dur"), ""),
        (f"{ok} (sum ÷ wall)", fig(doc.get(ok), f"{base}{ok}", "x"), "main"),
        ("lower bound", fig(doc.get("bound_ms"), f"{base}bound_ms", "dur"), ""),
        ("efficiency (bound ÷ wall)", fig(doc.get("efficiency"), f"{base}efficiency", "pct"), "main"),
        ("samples", fig(doc.get("samples"), f"{base}samples", "int"), ""),
        ("client CPU ÷ wall", fig(doc.get("client_cpu"), f"{base}client_cpu", "pct"), ""),
        ("client-bound", "yes" if doc.get("client_bound") else "no", "warn" if doc.get("client_bound") else ""),
    ]
    if doc.get("retries"):
        cards.append(("retries", fig(doc.get("retries"), f"{base}retries", "int"), "warn"))
    notes = []
    if doc.get("client_bound"):
        notes.append(f'<p class="note warn">qshell itself was busy {pct(doc.get("client_cpu"))} of the wall (CPU-bound '
                     "client): the query times include waiting for qshell, not only for the server.</p>")
    if doc.get("interrupted"):
        notes.append('<p class="note bad">This run was interrupted (Ctrl-C): its times are not measurements.</p>')
    return _cards(cards) + "".join(notes)


def timeline_section(doc: Doc, base: str = "") -> str:
    if not doc.get("results"):
        return ""
    unstarted = [q for q in doc["results"] if q.get("worker") is None]
    names = ", ".join(f"#{q.get('index')}" for q in unstarted)
    more = f'<p class="small muted">not started: {esc(names)}</p>' if unstarted else ""
    return ('<h3>Worker timeline</h3><p class="small muted">One lane per worker; each query a bar from its start to '
            "its end, coloured by the wait event it spent most of its sampled time on (CPU: sampled running, waiting on "
            "nothing); hover a bar for its details.</p>"
            f'<div class="figure">{timeline_svg(doc, "tl-" + _slug(base + str(doc.get("run_id"))))}</div>{timeline_legend(doc)}{more}')


def waits_over_time_section(doc: Doc, base: str = "") -> str:
    spans = doc.get("wait_series") or []
    if not spans:
        return ""
    return ('<h3>Waits over time</h3><p class="small muted">What each worker\'s query was doing at each '
            "<code>pg_stat_activity</code> sample (every 20 ms): each sample colours the time since the one before; "
            "the outlines are the queries.</p>"
            f'<div class="figure">{waits_svg(doc)}</div>{timeline_legend(doc, series=True)}')


def queries_section(doc: Doc, base: str = "") -> str:
    if not doc.get("results"):
        return ""
    return f'<h3>Queries</h3><div class="scroll">{queries_table(doc, base)}</div>'


def hosts_section(doc: Doc, base: str = "") -> str:
    """The run's times per server, when its queries ran on more than one."""
    hosts = doc.get("hosts") or []
    if len(hosts) < 2:
        return ""
    rows = [[esc(h.get("host")), "standby" if h.get("standby") else "primary",
             fig(h.get("workers"), f"{base}hosts/{i}/workers", "int"), fig(h.get("queries"), f"{base}hosts/{i}/queries", "int"),
             fig(h.get("failed"), f"{base}hosts/{i}/failed", "int"), fig(h.get("sum_ms"), f"{base}hosts/{i}/sum_ms", "dur"),
             fig(h.get("mean_ms"), f"{base}hosts/{i}/mean_ms", "ms"), fig(h.get("max_ms"), f"{base}hosts/{i}/max_ms", "ms")]
            for i, h in enumerate(hosts)]
    return "<h3>Per host</h3>" + _table(["host", "role", "workers", "queries", "not ok", "sum", "mean ms", "max ms"], rows,
                                        "hosts", [2, 3, 4, 5, 6, 7])


def failures_section(doc: Doc, base: str = "") -> str:
    failures = doc.get("failures") or {}
    if not isinstance(failures, dict) or not failures:
        return ""
    if not all(_is_number(v) for v in failures.values()):
        return "<h3>Failures by SQLSTATE</h3>" + value_html(failures, f"{base}failures")
    rows = [[esc(k), fig(v, f"{base}failures/{k}", "int")] for k, v in failures.items()]
    return "<h3>Failures by SQLSTATE</h3>" + _table(["SQLSTATE", "queries"], rows, "failures", [1])


def conflicts_section(doc: Doc, base: str = "") -> str:
    """Who waited for whom (the lock graph drawn, then as a table, with the outside
    sessions described) and every deadlock."""
    waits = [w for w in doc.get("lock_waits") or [] if isinstance(w, dict)]
    deadlocks = [d for d in doc.get("deadlocks") or [] if isinstance(d, dict)]
    out = []
    if waits:
        out.append('<h3>Lock waits</h3><p class="small muted">Who waited for whom, sampled from <code>pg_stat_activity'
                   "</code>, <code>pg_blocking_pids()</code> and <code>pg_locks</code> (an arrow from the waiting query to "
                   "the lock's holder; the time is the time seen waiting). The <b>root blocker</b> holds a lock and waits "
                   "for nobody.</p>")
        out.append(f'<div class="figure">{lock_graph_svg(doc)}</div>')
        rows = []
        for i, w in enumerate(waits):
            p = f"{base}lock_waits/{i}"
            on = f' on <b>{esc(w.get("relation"))}</b>' if w.get("relation") else ""
            rows.append([Cell(f'<b>{esc(w.get("waiter"))}</b> {_who_html(doc, str(w.get("waiter")))}', css="sql"),
                         Cell(f'<b>{esc(w.get("holder"))}</b> {_who_html(doc, str(w.get("holder")))}', css="sql"),
                         f'{esc(w.get("mode"))} <span class="muted">({esc(w.get("locktype"))})</span>{on}',
                         fig(w.get("ms"), f"{p}/ms", "dur")])
        out.append('<div class="scroll">' + _table(["waiter", "holder (its query, or the session)", "lock asked for",
                                                    "time waiting"], rows, "lock-waits", [3]) + "</div>")
    sessions = [s for s in doc.get("sessions") or [] if isinstance(s, dict)]
    if sessions:
        rows = [[esc(s.get("name")), fig(s.get("pid"), f"{base}sessions/{i}/pid", "int"), esc(s.get("application_name") or ""),
                 esc(s.get("user") or ""), esc(s.get("state") or ""), fig(s.get("xact_age_ms"), f"{base}sessions/{i}/xact_age_ms", "dur")]
                for i, s in enumerate(sessions)]
        out.append('<h3>Sessions outside the run that blocked it</h3><p class="small muted">As '
                   "<code>pg_stat_activity</code> showed each while samples saw it block: the state most of them saw, "
                   "its transaction's age at the last.</p>" + _table(["name", "pid", "application", "user", "state", "transaction age"], rows,
                                             "sessions", [1, 5]))
    if deadlocks:
        seen = doc.get("deadlocks_seen")
        head = "<h3>Deadlocks</h3>"
        if isinstance(seen, int) and seen > len(deadlocks):
            head += (f'<p class="small muted">The first {len(deadlocks)} of <span data-key="{esc(base)}deadlocks_seen" '
                     f'data-fmt="int">{seen}</span> deadlocks.</p>')
        out.append(head + '<p class="small muted">Each cycle as the server\'s DETAIL gives it, its backends named by the '
                   "staged query that ran on them then; the victim is the query the server failed.</p>")
        rows = []
        graphs = []
        for i, d in enumerate(deadlocks):
            p = f"{base}deadlocks/{i}"
            edges = "".join(f'<div>{esc(e.get("waiter"))} waited for <b>{esc(e.get("mode"))}</b> on {esc(e.get("on"))}, '
                            f'held by {esc(e.get("holder"))}</div>' for e in d.get("cycle") or [] if isinstance(e, dict))
            rows.append([fig(d.get("at_ms"), f"{p}/at_ms", "dur"), esc(f'#{d.get("victim")}'),
                         esc(", ".join(str(x) for x in d.get("queries") or [])), Cell(edges, css="sql"),
                         "yes" if d.get("retried") else "no"])
            graphs.append(deadlock_svg(doc, d, i))
        out.append('<div class="scroll">' + _table(["at", "victim", "queries", "cycle", "retried"], rows, "deadlocks", [0]) + "</div>")
        out.append('<div class="figure graphs">' + "".join(graphs[:6]) + "</div>")
    return "".join(out)


def sql_section(doc: Doc, base: str = "") -> str:
    results = doc.get("results") or []
    if not results:
        return ""
    items = []
    for q in results:
        sql = str(q.get("sql") or "")
        cut = f"\n… ({len(sql) - SQL_FULL_MAX} more characters)" if len(sql) > SQL_FULL_MAX else ""
        items.append(f'<li value="{esc(q.get("index"))}"><pre class="sql-full">{esc(sql[:SQL_FULL_MAX] + cut)}</pre></li>')
    return f'<details class="sql-list"><summary>The staged SQL ({len(results)} statements)</summary><ol>{"".join(items)}</ol></details>'


def cpu_section(doc: Doc, base: str = "") -> str:
    """The CPU the run used, when its record has it (``cpu``: from /proc on the server's
    machine): its verdict, the cores the server's backends used, how busy the machine and
    other processes were, then every figure of it as a table."""
    cpu = doc.get("cpu")
    if not isinstance(cpu, dict):
        return ""
    p = f"{base}cpu"
    cards = [(label, fig(cpu.get(key), f"{p}/{key}", f), "") for label, key, f in
             (("server backends (cores)", "backends_cores", "cores"), ("machine busy", "machine_busy", "pct"),
              ("other processes", "other", "pct")) if _is_number(cpu.get(key))]
    verdict = cpu.get("verdict")
    note = f'<p class="note {"warn" if "CPU-bound at" in str(verdict) or "other processes" in str(verdict) else ""}">{esc(verdict)}</p>' \
        if verdict else ""
    rest = {k: v for k, v in cpu.items() if k != "verdict" and v is not None}
    return "<h3>CPU during the run</h3>" + note + (_cards(cards) if cards else "") + value_html(rest, p)


def more_run_figures(doc: Doc, base: str = "") -> str:
    extra = {k: v for k, v in doc.items() if k not in RUN_KNOWN and k != "cpu"}
    return more_figures(extra, base)


def more_figures(extra: Mapping[str, Any], base: str = "") -> str:
    """Fields the report has no section for yet (figures added later): each as a table;
    empty ones (null, no entries) left out."""
    extra = {k: v for k, v in extra.items() if v not in (None, [], {})}
    if not extra:
        return ""
    rows = [[esc(k), Cell(value_html(v, f"{base}{k}"))] if not _is_number(v) else [esc(k), fig(v, f"{base}{k}", "num")]
            for k, v in extra.items()]
    return "<h3>More figures</h3>" + _table(["field", "value"], rows, "kv more")


# -- why is it slow: resources (pg_stat_statements) and plans (EXPLAIN ANALYZE) per query --
def _plan_nodes(plan: Mapping[str, Any], path: str) -> str:
    """The plan's nodes as an indented list that wraps (no line wider than the page)."""
    out = []
    for i, n in enumerate(plan.get("nodes") or []):
        depth = min(int(n.get("depth") or 0), 12)
        p = f"{path}/nodes/{i}"
        workers = (f' · workers <span data-key="{esc(p)}/workers_launched" data-fmt="int">{esc(n.get("workers_launched"))}</span>/'
                   f'<span data-key="{esc(p)}/workers_planned" data-fmt="int">{esc(n.get("workers_planned"))}</span>'
                   if "workers_planned" in n else "")
        out.append(f'<li style="margin-left:{depth * 1.4:.1f}em">{"→ " if depth else ""}<b>{esc(n.get("node"))}</b> '
                   f'<span class="muted"><span data-key="{esc(p)}/ms" data-fmt="ms">{esc(FORMATS["ms"](n.get("ms") or 0))}</span> ms'
                   f' · rows <span data-key="{esc(p)}/rows" data-fmt="int">{esc(n.get("rows"))}</span>{workers}</span></li>')
    return '<ul class="plan">' + "".join(out) + "</ul>" if out else ""


def _client(q: Mapping[str, Any], r: Mapping[str, Any], path: str) -> tuple[str | Cell, str]:
    """(client ms, why unknown): the record's own figure; a record of before it was kept
    (no ``client_ms``) gives run ms minus server ms only for a query's own figures, never
    an average of a shared entry subtracted from one run's time."""
    if "client_ms" in r:
        c = r.get("client_ms")
        return (fig(c, f"{path}/client_ms", "signed"), "") if c is not None else ("?", str(r.get("client_unknown") or "unknown"))
    if r.get("calls") == 1 and r.get("shared") == 1:
        c = float(q.get("total_ms") or 0) - float(r.get("server_ms") or 0)
        if c >= 0:
            return f"{c:+.1f}", ""
    return "?", f'server time: an average of {r.get("calls")} calls, {r.get("shared")} staged on one entry'


def _pair(r: Mapping[str, Any], path: str, a: tuple[str, str], b: tuple[str, str]) -> Cell:
    """Two figures in one cell, ``a / b``."""
    def one(key: str, f: str) -> str:
        c = fig(r.get(key), f"{path}/{key}", f)
        return f'<span data-key="{esc(c.key)}" data-fmt="{esc(c.fmt)}">{c.html}</span>' if c.key else c.html
    return Cell(f'<span class="nowrap">{one(*a)} / {one(*b)}</span>', num=True)


def why_slow_section(doc: Doc, base: str = "") -> str:
    """Per query: server time beside the client's, buffers, temp, WAL (resources); the
    plan's time, workers launched of planned, and under the row its nodes (explain
    analyze); why a query has none of them, or no client time."""
    indexed = [(k, q) for k, q in enumerate(doc.get("results") or [])
               if isinstance(q.get("resources"), dict) or isinstance(q.get("plan"), dict) or q.get("no_resources") or q.get("no_plan")]
    if not indexed:
        return ""
    has_res = any(isinstance(q.get("resources"), dict) or q.get("no_resources") for _, q in indexed)
    has_plan = any(isinstance(q.get("plan"), dict) or q.get("no_plan") for _, q in indexed)
    headers = ["#", "query", "run ms"]
    if has_res:
        headers += ["server ms", "client ms", "shared hit / read", "temp written / WAL", "calls / staged"]
    if has_plan:
        headers += ["plan ms", "workers launched / planned"]
    rows, after = [], []
    for k, q in indexed:
        path = f"{base}results/{k}"
        row: list[str | Cell] = [fig(q.get("index"), f"{path}/index", "int"), _sql_td(str(q.get("sql") or ""), 60),
                                 fig(q.get("total_ms") or 0, f"{path}/total_ms", "ms")]
        missing = []
        r = q.get("resources")
        if has_res:
            if isinstance(r, dict):
                rp = f"{path}/resources"
                client, unknown = _client(q, r, rp)
                if unknown:
                    missing.append(f"client time: {unknown}")
                row += [fig(r.get("server_ms") or 0, f"{rp}/server_ms", "ms"), client,
                        _pair(r, rp, ("shared_hit", "compact"), ("shared_read", "compact")),
                        _pair(r, rp, ("temp_written", "compact"), ("wal_bytes", "bytes")),
                        _pair(r, rp, ("calls", "int"), ("shared", "int"))]
            else:
                row += ["-"] * 5
                if q.get("no_resources"):
                    missing.append(f'resources: no figures: {q.get("no_resources")}')
        p = q.get("plan")
        nodes = ""
        if has_plan:
            if isinstance(p, dict):
                planned, launched = p.get("workers_planned") or 0, p.get("workers_launched") or 0
                short = ' class="error-text"' if launched < planned else ""
                row += [fig(p.get("total_ms") or 0, f"{path}/plan/total_ms", "ms"),
                        Cell(f'<span{short}><span data-key="{esc(path)}/plan/workers_launched" data-fmt="int">{esc(launched)}</span>'
                             f' / <span data-key="{esc(path)}/plan/workers_planned" data-fmt="int">{esc(planned)}</span></span>'
                             if planned else "", num=True)]
                nodes = _plan_nodes(p, f"{path}/plan")
            else:
                row += ["-", ""]
                if q.get("no_plan"):
                    missing.append(f'plan: none: {q.get("no_plan")}')
        rows.append(row)
        why = f'<div class="small muted">missing: {esc("; ".join(missing))}</div>' if missing else ""
        after.append(why + nodes)
    numeric = [0, 2] + (list(range(3, 8)) if has_res else []) + ([len(headers) - 2, len(headers) - 1] if has_plan else [])
    notes = []
    if has_res:
        notes.append("Resources: the run's delta of <code>pg_stat_statements</code> per queryid (shared buffers found in "
                     "PostgreSQL's cache (hit) or read from the OS, temp blocks written, WAL, execution time in the "
                     "server); client ms is run ms minus server ms. Queries on one entry (same text up to constants) "
                     "share its average, and their client time is unknown (?); other sessions running it meanwhile "
                     "are counted in (calls above staged). A text of several statements, a utility statement, a "
                     "text whose table was locked while it was planned before the run get no figures: "
                     "a line under the query says why.")
    if has_plan:
        notes.append("Plans: each query ran as <code>EXPLAIN (ANALYZE, BUFFERS)</code>; its plan's nodes under its row; "
                     "workers are summed over its Gather nodes (<code>max_parallel_workers</code> is shared by every session).")
    totals = doc.get("resources")
    cards: list[tuple[str, str | Cell, str]] = []
    if isinstance(totals, dict):
        cards += [(label, fig(totals.get(key), f"{base}resources/{key}", f), "") for label, key, f in
                  (("server ms", "server_ms", "ms"), ("shared hit", "shared_hit", "compact"),
                   ("shared read", "shared_read", "compact"), ("temp written", "temp_written", "compact"),
                   ("WAL", "wal_bytes", "bytes"))]
    if doc.get("workers_planned"):
        cards.append(("workers launched / planned",
                      Cell(f'<span data-key="{esc(base)}workers_launched" data-fmt="int">{esc(doc.get("workers_launched"))}</span> / '
                           f'<span data-key="{esc(base)}workers_planned" data-fmt="int">{esc(doc.get("workers_planned"))}</span>'), ""))
    return ('<h3>Why is it slow: resources and plans</h3>' + "".join(f'<p class="small muted">{n}</p>' for n in notes)
            + (_cards(cards) if cards else "") + f'<div class="scroll">{_table(headers, rows, "why", numeric, after)}</div>')


RUN_SECTIONS: list[Callable[..., str]] = [run_header, timeline_section, waits_over_time_section, queries_section,
                                          why_slow_section, failures_section, hosts_section, conflicts_section,
                                          cpu_section, more_run_figures, sql_section]


def render_run(doc: Doc, base: str = "") -> str:
    return "".join(section(doc, base) for section in RUN_SECTIONS)


def _run_block(doc: Doc, title: str, open_: bool, base: str) -> str:
    return (f'<details class="run" {"open" if open_ else ""}><summary><h2 class="inline">{esc(title)}</h2></summary>'
            f'{render_run(doc, base)}</details>')
