"""Runs side by side as text: the live progress line, \\sweep, \\go N xR, \\history and \\compare.

Never touches the database.
"""
from __future__ import annotations

from qshell.common.visible import visible
from qshell.output.run_summary import _pct, _table_fmt, host_rows, preview
from qshell.output.styles import Style, duration, ms, shorten, tabulate
from qshell.records.results import RunResult, Status


# -- live progress, sweep, repeats, history, compare ---------------------------------------
def progress_line(p, width: int = 100) -> str:  # noqa: ANN001 - results.Progress
    """One status line: elapsed, done / running / queued, what each worker runs."""
    head = f"{duration(p.elapsed_s)} · done {p.done} · running {len(p.running)} · queued {p.queued}"
    workers = " ".join(f"w{w}:#{i} {t:.1f}s" for w, i, t in p.running)
    text = f"{head} · {workers}" if workers else head
    return shorten(text, width - 1)


def bar_chart(items: list[tuple[str, float]], width: int = 40) -> str:
    """Horizontal bars, longest = ``width`` cells; label and value beside each."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    label_w = max(len(k) for k, _ in items)
    return "\n".join(f"{k.rjust(label_w)} │{'█' * max(1, round(v / top * width))} {duration(v)}" for k, v in items)


def sweep_rows(runs: list[RunResult]) -> list[dict]:
    """The seed's table as data: per N its wall, speedup against N=1, efficiency, bound.

    Without an N=1 run in the sweep, the serial time is estimated as the sum of query
    times of the first run (``serial_estimated``)."""
    runs = [r for r in runs if not r.interrupted]  # an interrupted run measured nothing
    serial = next((r.wall_s for r in runs if r.n == 1), None)
    estimated = serial is None
    if serial is None:
        serial = runs[0].sum_s if runs else 0.0  # no runs: no rows either
    rows = []
    for r in runs:
        c = r.cpu
        rows.append({
            "n": r.n, "wall_ms": round(r.wall_s * 1000, 3), "speedup": round(serial / r.wall_s, 4) if r.wall_s else 0.0,
            "efficiency": round(r.efficiency, 4), "bound_ms": round(r.bound_s * 1000, 3),
            "failed": r.failed, "serial_estimated": estimated,
            "backends_cores": _round(c.cores(c.backends_s)) if c is not None else None,
            "machine_busy": round(c.busy, 4) if c is not None else None,
            "other": _round(c.other) if c is not None else None,
        })
    return rows


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def sweep_verdict(runs: list[RunResult]) -> str | None:
    """The CPU verdict over a sweep's runs (cpu.sweep_verdict), None when none was measured."""
    from qshell.engine.cpu import sweep_verdict as verdict

    points = [(r.n, r.cpu) for r in runs if r.cpu is not None and not r.interrupted]
    return verdict(points) if points else None


def sweep_text(runs: list[RunResult], style: Style) -> str:
    rows = sweep_rows(runs)
    est = " (N=1 estimated as the sum of query times)" if rows and rows[0]["serial_estimated"] else ""
    failed = any(x["failed"] for x in rows)
    measured = any(x["machine_busy"] is not None for x in rows)

    def cores(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    table = tabulate(
        [[r["n"], duration(r["wall_ms"] / 1000), f"{r['speedup']:.2f}×", _pct(r["efficiency"]),
          duration(r["bound_ms"] / 1000)]
         + ([cores(r["backends_cores"]), "-" if r["machine_busy"] is None else _pct(r["machine_busy"]),
             "-" if r["other"] is None else _pct(r["other"])] if measured else [])
         + ([r["failed"]] if failed else []) for r in rows],
        headers=["N", "wall", "speedup vs N=1", "efficiency", "lower bound"]
        + (["server cores", "machine busy", "other procs"] if measured else []) + (["not ok"] if failed else []),
        tablefmt=_table_fmt(style), disable_numparse=True,
        colalign=("right",) * (5 + (3 if measured else 0) + (1 if failed else 0)))
    chart = bar_chart([(f"N={r.n}", r.wall_s) for r in runs if not r.interrupted])
    stopped = [r.n for r in runs if r.interrupted]
    if stopped:
        chart += f"\n(the run at N={stopped[0]} was interrupted: not in the table)"
    verdict = sweep_verdict(runs)
    cpu_note = f"\nCPU: {verdict}" if verdict else ""
    return f"{table}\n{est.strip()}{cpu_note}\nwall time per N:\n{chart}".replace("\n\n", "\n")


def target_sweep_rows(series: list[tuple[str, list[RunResult], list[str]]]) -> list[dict]:
    """``\\sweep N… on TARGET…`` as data: per target (label, runs, run ids) its
    ``sweep_rows``, with the target, its run id, the servers its queries ran on
    (``host_rows``) and ``vs_first``: the first target's wall at the same N / this wall."""
    out: list[dict] = []
    first: dict[int, float] = {}
    for k, (label, runs, ids) in enumerate(series):
        done = [(r, i) for r, i in zip(runs, ids, strict=True) if not r.interrupted]
        for row, (run, run_id) in zip(sweep_rows([r for r, _ in done]), done, strict=True):
            if k == 0:
                first[run.n] = run.wall_s
            base = first.get(run.n)
            out.append({"target": label, **row, "vs_first": round(base / run.wall_s, 4) if base and run.wall_s else None,
                        "run_id": run_id, "servers": host_rows(run)})
    return out


def servers_cell(servers: list[dict]) -> str:
    """'3: 1 primary + 2 standby' (how many servers a run's queries ran on, by role)."""
    standby = sum(1 for h in servers if h["standby"])
    roles = [f"{len(servers) - standby} primary"] if len(servers) > standby else []
    if standby:
        roles.append(f"{standby} standby")
    return f"{len(servers)}: {' + '.join(roles)}" if servers else "-"


def target_sweep_text(rows: list[dict], style: Style) -> str:
    failed = any(r["failed"] for r in rows)
    table = tabulate(
        [[shorten(visible(r["target"]), 40), r["n"], duration(r["wall_ms"] / 1000),
          f"{r['vs_first']:.2f}×" if r["vs_first"] is not None else "-", f"{r['speedup']:.2f}×",
          _pct(r["efficiency"]), servers_cell(r["servers"]), " / ".join(str(h["queries"]) for h in r["servers"]) or "-"]
         + ([r["failed"]] if failed else []) for r in rows],
        headers=["target", "N", "wall", "vs first target", "speedup vs N=1", "efficiency", "servers", "queries per server"]
        + (["not ok"] if failed else []),
        tablefmt=_table_fmt(style), disable_numparse=True,
        colalign=("left", "right", "right", "right", "right", "right", "left", "left") + (("right",) if failed else ()))
    chart = bar_chart([(f"{shorten(visible(r['target']), 30)} N={r['n']}", r["wall_ms"] / 1000) for r in rows])
    est = ("\n(N=1 estimated as the sum of query times where a target has no N=1 run)"
           if any(r["serial_estimated"] for r in rows) else "")
    return f"{table}{est}\nwall time per target and N:\n{chart}"


def stats_cells(st) -> list[str]:  # noqa: ANN001 - analysis.Stats
    return [ms(st.min), ms(st.median), ms(st.p95), ms(st.max)]


def _warm(runs: list[RunResult]) -> list[RunResult]:
    """The repetitions statistics are taken over: after the cold first one, never an
    interrupted one (its times are not measurements)."""
    return [r for r in (runs[1:] if len(runs) > 1 else runs) if not r.interrupted]


def repeat_text(runs: list[RunResult], style: Style) -> str:
    """Per repetition its wall (the first marked cold), then per query and for the wall
    min / median / p95 / max over the warm repetitions."""
    from qshell.engine.analysis import stats

    warm = _warm(runs)
    reps = tabulate([[i, duration(r.wall_s), f"{r.overlap:.2f}×", _pct(r.efficiency),
                      "interrupted" if r.interrupted else "cold" if i == 1 else ""]
                     for i, r in enumerate(runs, start=1)],
                    headers=["rep", "wall", "overlap", "efficiency", "note"], tablefmt=_table_fmt(style),
                    disable_numparse=True, colalign=("right", "right", "right", "right", "left"))
    rows = []
    for pos, q in enumerate(runs[0].queries):
        st = stats(r.queries[pos].total_s for r in warm if r.queries[pos].status is Status.OK)
        rows.append([q.index, preview(q.sql), st.count] + stats_cells(st))
    per_query = tabulate(rows, headers=["#", "query", "ok", "min ms", "median ms", "p95 ms", "max ms"],
                         tablefmt=_table_fmt(style), disable_numparse=True,
                         colalign=("right", "left", "right", "right", "right", "right", "right"))
    if not warm:
        return f"{reps}\nno repetition to measure (N={runs[0].n}: {'interrupted' if runs[-1].interrupted else 'only the cold one'})"
    wall = stats(r.wall_s for r in warm)
    done = len(runs) - sum(r.interrupted for r in runs)
    over = f"warm repetitions 2-{done}" if len(runs) > 1 else "1 repetition"
    return (f"{reps}\n{per_query}\nwall over {over}: min {duration(wall.min)} · median {duration(wall.median)} · "
            f"p95 {duration(wall.p95)} · max {duration(wall.max)} (N={runs[0].n}, {len(runs)} repetitions)")


def repeat_record(runs: list[RunResult], run_ids: list[str]) -> dict:
    from qshell.engine.analysis import stats

    warm = _warm(runs)

    def st(values) -> dict:  # noqa: ANN001
        s = stats(values)
        return {"count": s.count, "min_ms": round(s.min * 1000, 3), "median_ms": round(s.median * 1000, 3),
                "p95_ms": round(s.p95 * 1000, 3), "max_ms": round(s.max * 1000, 3)}

    return {
        "type": "repeat", "n": runs[0].n, "reps": len(runs), "cold_run_id": run_ids[0], "run_ids": run_ids,
        "wall": st(r.wall_s for r in warm),
        "queries": [{"index": q.index, **st(r.queries[pos].total_s for r in warm if r.queries[pos].status is Status.OK)}
                    for pos, q in enumerate(runs[0].queries)],
    }


def history_text(numbered: list[tuple[int, dict]], style: Style) -> str:
    import time as _time

    # a record's text may come from another program (runs.sqlite is a file): shown escaped
    rows = [[k, _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(r.get("started_at", 0))), visible(r.get("fingerprint", "")),
             visible(r.get("label", "")), r.get("n"), duration(r.get("wall_ms", 0) / 1000), f"{r.get('overlap', 0):.2f}×",
             visible(r.get("mode", ""))] for k, r in numbered]
    return tabulate(rows, headers=["run", "when", "set", "label", "N", "wall", "overlap", "mode"],
                    tablefmt=_table_fmt(style), disable_numparse=True)


def compare_rows(a: dict, b: dict) -> list[dict]:
    """Per query position: its time in run A and in run B and the change."""
    rows = []
    # two runs of different sets: only the positions both have are compared
    for qa, qb in zip(a.get("results", []), b.get("results", []), strict=False):
        ta, tb = qa.get("total_ms", 0.0), qb.get("total_ms", 0.0)
        rows.append({"index": qa.get("index"), "sql": qa.get("sql", ""), "a_ms": ta, "b_ms": tb,
                     "change": (tb / ta - 1) if ta else None, "a_status": qa.get("status"), "b_status": qb.get("status")})
        if any(k in q for q in (qa, qb) for k in ("plan", "resources")):
            from qshell.engine.plans import difference

            rows[-1]["plan"] = difference(qa, qb)
    return rows


def compare_text(ka: int, a: dict, kb: int, b: dict, style: Style) -> str:
    rows = compare_rows(a, b)
    plan = any("plan" in r for r in rows)  # either run measured plans or resources: their differences
    body = tabulate(
        [[r["index"], preview(r["sql"]), f"{r['a_ms']:.1f}", f"{r['b_ms']:.1f}",
          f"{r['change'] * 100:+.0f}%" if r["change"] is not None else "-",
          "" if r["a_status"] == r["b_status"] == "ok" else visible(f"{r['a_status']}/{r['b_status']}")]
         + ([visible(r.get("plan", ""))] if plan else []) for r in rows],
        headers=["#", "query", f"run {ka} ms", f"run {kb} ms", "change", "status"] + (["plan / resources"] if plan else []),
        tablefmt=_table_fmt(style), disable_numparse=True,
        colalign=("right", "left", "right", "right", "right", "left") + (("left",) if plan else ()))
    wa, wb = a.get("wall_ms", 0.0), b.get("wall_ms", 0.0)
    change = f"{(wb / wa - 1) * 100:+.0f}%" if wa else "-"
    head = (f"run {ka}: N={a.get('n')} {a.get('mode', '')} · wall {duration(wa / 1000)}    "
            f"run {kb}: N={b.get('n')} {b.get('mode', '')} · wall {duration(wb / 1000)}    change {change}")
    return f"{visible(head)}\n{body}"
