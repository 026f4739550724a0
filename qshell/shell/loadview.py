"""``\\go N for DURATION [at RATE/s]`` in the shell: the command, its live progress line
and its text (issue 13, item 3). The engine is ``load.py`` (no UI there)."""
from __future__ import annotations

import shutil
from dataclasses import replace

import gevent

from qshell.common.errors import ExitStatus, QshellError
from qshell.common.secrets import without_passwords
from qshell.common.visible import visible
from qshell.engine import cpu
from qshell.engine.load import LoadPool
from qshell.output import json_lines, run_summary, styles
from qshell.output.styles import bound
from qshell.output.styles import load_number as _n
from qshell.records.load import CLIENT_BOUND_DELAY_MS, SHOWN_NOTICES, Histogram, LoadProgress, LoadResult, QueryLoad, fine
from qshell.script.commands import Command
from qshell.shell.host import ShellHost, _Stop
from qshell.shell.interrupt import sigint_calls
from qshell.shell.streams import isatty

_SPARK = "▁▂▃▄▅▆▇█"


class _CpuLoadPool(cpu.CpuSnapshots, LoadPool):
    """A LoadPool whose CPU is measured (cpu.CpuSnapshots), as a run's."""


def load_cpu(pool: _CpuLoadPool, source: int | str) -> cpu.RunCpu | None:
    """The load's CPU from its workers' connection to now: their backends (each worker keeps
    one for the load), the whole server, qshell and the machine. Behind a transaction pooler
    the backends change per transaction (only the whole server is known) and over several
    servers nothing of the server's."""
    if pool.cpu_start is None:
        return None
    after = cpu.snapshot(pool.cpu_start.postmaster)
    why = source if isinstance(source, str) else None
    if why is None and len(pool.by_server) > 1:
        why = "server CPU not measurable: the load ran on several servers"
    if why is None and pool.db.pooler() is not None:
        why = "server CPU of the workers' backends not measurable: behind a pooler"
    return cpu.measure(pool.cpu_start, after, set(pool.cpu_pids), why)


def progress_line(p: LoadProgress, width: int = 100) -> str:
    """The live line: elapsed of duration, executions, last second's throughput, p95."""
    text = (f"load {p.elapsed_s:.1f} s / {p.duration_s:g} s · {p.executions:,} executions · {p.last_second:,}/s"
            f" · p95 {styles.duration(p.p95_ms / 1000)}")
    if p.errors:
        text += f" · errors {p.errors:,}"
    if p.late or p.skipped:
        text += f" · late {p.late:,} · skipped {p.skipped:,}"
    return styles.shorten(text, width - 1)


def sparkline(values: list[int], width: int = 60) -> str:
    """One character per second (or per group of seconds when there are more than ``width``)."""
    if not values:
        return ""
    step = -(-len(values) // width)
    groups = [sum(values[i:i + step]) / len(values[i:i + step]) for i in range(0, len(values), step)]
    top = max(groups) or 1.0
    return "".join(_SPARK[min(len(_SPARK) - 1, int(v / top * (len(_SPARK) - 1) + 0.5))] for v in groups)


def histogram_lines(load: LoadResult, width: int = 40) -> list[str]:
    """The latency histogram (ok executions) as horizontal bars, one per 1-2-5 bound."""
    rows = load.overall.coarse(16)
    if not rows:
        return []
    top = max(n for _, n in rows) or 1
    labels = [f"≤ {bound(b)}" for b, _ in rows]
    lw = max(len(s) for s in labels)
    total = load.overall.count
    return [f"  {label.rjust(lw)} │{'█' * round(n / top * width) if n else ''}{'▏' if n and round(n / top * width) == 0 else ''}"
            f" {n:,} ({n / total:.1%})" for label, (_, n) in zip(labels, rows, strict=True)]


def load_text(load: LoadResult, style: styles.Style, width: int = 100) -> str:
    """The whole report of a load: header, per query table, totals, per-second throughput,
    histogram, errors by SQLSTATE."""
    loop = f"open loop at {load.rate:g}/s" if load.rate else "closed loop"
    count = f"{len(load.queries)} {'query' if len(load.queries) == 1 else 'queries'}"
    head = (f"══ sustained load: {count} on N={load.n} workers for {load.duration_s:g} s"
            f" · {loop} · {load.mode}")
    rows = [[q.index, run_summary.preview(q.sql), f"{q.count:,}", f"{q.errors:,}"] + _latency_cells(q.hist)
            + ([q.retries] if any(x.retries for x in load.queries) else [])
            + ([visible(", ".join(f"{e} {s:.0%}" for e, s in load.waits.get(q.index, ())[:2]))] if load.waits else [])
            for q in load.queries]
    retried = any(x.retries for x in load.queries)
    headers = (["#", "query", "executions", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"] + (["retries"] if retried else [])
               + (["main waits"] if load.waits else []))
    table = styles.tabulate(rows, headers=headers, tablefmt=run_summary._table_fmt(style), disable_numparse=True,
                            colalign=["right", "left"] + ["right"] * (len(headers) - 2 - bool(load.waits)) + ["left"] * bool(load.waits))
    lat = load.overall.summary()
    limit = (f"latency limit {styles.duration(load.latency_limit_s)}" if load.latency_limit_s is not None
             else "no latency limit")
    lines = [head, table,
             f"executions {load.executions:,} in {styles.duration(load.elapsed_s)} · {_n(load.qps)}/s"
             f" · errors {load.errors:,} · late {load.late:,}" + (f" · skipped {load.skipped:,}" if load.rate else "")
             + f" ({limit})" + (" · interrupted" if load.interrupted else ""),
             f"latency (ok executions{', from the scheduled start' if load.rate else ''}): "
             + (_percentiles(lat) if load.overall.count else "none succeeded")]
    if load.rate and load.lag.count:
        lines.append(f"schedule lag (start − scheduled start): {_percentiles(load.lag.summary())}")
        lines.append(f"  of it qshell's own start delay (a worker free, the start due): {_percentiles(load.delay.summary())}")
    if load.client_bound:
        lines.append(client_bound_line(load))
    if load.per_second:
        per = load.per_second
        # the seconds the load ran whole; the last bucket is a part of one when the load
        # ended past a whole second (the executions under way at the end): its count is
        # shown apart, not taken for a second's throughput (min 2 of a 1 s load)
        whole = per[:max(1, int(load.elapsed_s))]
        tail = f" · the last {styles.duration(load.elapsed_s - len(whole))}: {per[-1]:,}" if len(per) > len(whole) else ""
        lines.append(f"per second: {sparkline(per, max(10, width - 40))} (min {min(whole):,} · max {max(whole):,}"
                     f" over {len(whole)} s{tail})")
    if len(load.hosts) > 1:  # a multi-host target: the latencies per server
        host_rows = [[h.host, "standby" if h.standby else "primary", f"{h.count:,}", f"{h.errors:,}"]
                     + _latency_cells(h.hist) for h in load.hosts]
        lines.append("per host:\n" + styles.tabulate(
            host_rows, headers=["host", "role", "executions", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            tablefmt=run_summary._table_fmt(style), disable_numparse=True, colalign=["left", "left"] + ["right"] * 6))
    hist = histogram_lines(load, max(10, min(40, width - 40)))
    if hist:
        lines.append("latency histogram (ok executions):")
        lines.extend(hist)
    if load.error_kinds:
        lines.append("errors by SQLSTATE (count, the first one's message):")
        lines.extend(f"  {visible(e.sqlstate)} ×{e.count:,} in #{e.query} first: {visible(e.message)}" for e in load.error_kinds)
    for q in load.queries:
        lines.extend(notice_lines(q))
    if any(x.retries for x in load.queries):
        lines.append(f"retries: {sum(x.retries for x in load.queries):,}")
    lines.extend(run_summary.lock_lines(load.lock_waits, load.deadlocks[:5]))
    if load.deadlocks_seen > 5:
        lines.append(f"… {load.deadlocks_seen} deadlocks in all")
    if load.cpu is not None:
        lines.append(load.cpu.line())
    return "\n".join(lines)


def _latency_cells(hist: Histogram) -> list[str]:
    """p50, p95, p99, max of the ok executions; "–" each when none succeeded (not 0.000)."""
    if not hist.count:
        return ["–"] * 4
    return [_cell(hist.percentile(p)) for p in (50, 95, 99)] + [_cell(hist.max_us / 1000)]


def _cell(ms: float) -> str:
    """A latency in a table's ms column: three decimals below a millisecond (0.086), one above."""
    return f"{ms:.3f}" if ms < 1 else f"{ms:.1f}"


def _percentiles(summary: dict) -> str:
    return " · ".join(f"{k} {fine(summary[k])}" for k in ("p50", "p95", "p99", "max"))


def client_bound_line(load: LoadResult) -> str:
    """Why the load's figures include waiting for qshell itself (LoadResult.client_bound)."""
    why = []
    if load.late_starts:
        why.append(f"started executions late (its own start delay p50 {fine(load.delay.percentile(50))},"
                   f" at least {fine(CLIENT_BOUND_DELAY_MS)})")
    if load.busy_client:
        why.append(f"was busy {load.client_cpu:.0%} of the wall")
    return (f"note: qshell itself {' and '.join(why)} (CPU-bound client): the latencies include waiting for"
            " qshell, not only for the server")


def notice_lines(q: QueryLoad, shown: int = SHOWN_NOTICES) -> list[str]:
    """A query's notices and warnings: how many of each severity, the first few distinct
    texts with their counts, and how many more."""
    if not q.notices:
        return []
    kinds = ", ".join(f"{visible(k)} ×{n:,}" for k, n in q.severities.items())
    out = [f"#{q.index} messages from the server: {kinds}"]
    out.extend(f"  ×{n:,} " + visible(t).replace("\n", "\n    ") for t, n in list(q.first_notices.items())[:shown])
    if q.more_notices:
        out.append(f"  … {q.more_notices:,} more")
    return out


def load_csv(load: LoadResult) -> str:
    from qshell.output.csvout import line

    first = {e.query: e for e in reversed(load.error_kinds)}  # each query's most frequent SQLSTATE it was first of
    out = [line(["index", "query", "executions", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms", "retries", "notices",
                 "first_sqlstate", "first_error"])]
    for q in load.queries:
        kind = first.get(q.index)
        out.append(line([q.index, without_passwords(q.sql), q.count, q.errors,
                         *("" if v is None else v for v in q.hist.figures_ms().values()), q.retries, q.notices,
                         kind.sqlstate if kind else "", kind.message if kind else ""]))
    return "".join(out).rstrip("\n")


class LoadCommands:
    """The sustained load of ``\\go N for DURATION [at RATE/s]``, given the shell (its
    session, settings, staged set, streams); keeps the last load's record for ``\\report``."""

    def __init__(self, shell: ShellHost) -> None:
        self.shell = shell
        self.last_load: dict | None = None

    def sustained(self, cmd: Command) -> None:
        from qshell.common.errors import UsageError
        if not self.shell.staged:
            raise UsageError("nothing staged; \\add a statement first")
        n = cmd.n if cmd.n is not None else self.shell.default_workers()
        db = self.shell.session.pool
        db.check_capacity(n, extra=1 if self.shell.settings.sample and not db.monitor_open else 0, sampling=self.shell.settings.sample)
        settings = self.shell.session.user.settings()
        if settings is not None:
            self.shell.session.pool.session_settings = settings
        s = self.shell.settings
        from qshell.engine.execute import TxMode

        mode = TxMode(rollback=s.tx == "rollback", isolation=s.isolation, readonly=s.readonly, timeout_ms=s.timeout)
        source = cpu.source(db)
        pool = _CpuLoadPool(self.shell.session.pool, tuple(self.shell.staged), n, cmd.duration_s or 1.0, cmd.rate, mode=mode,
                            retries=s.retries, latency_limit_s=None if s.latency_limit is None else s.latency_limit / 1000,
                            sample=s.sample)
        pool.postmaster = source if isinstance(source, int) else None
        ticker = gevent.spawn(self._load_progress, pool) if isatty(self.shell.err) else None
        try:
            with sigint_calls(pool.interrupt):
                load = pool.run()
        finally:
            if ticker is not None:
                ticker.kill()
                self.shell.err.write("\r\x1b[K")
                self.shell.err.flush()
        if pool.sampler is not None and pool.sampler.error:
            self.shell.notice(f"warning: sampling pg_stat_activity failed: {pool.sampler.error}")
        try:
            load = replace(load, cpu=load_cpu(pool, source))
        except QshellError:  # (the side connection lost since the load began: its figures stand)
            pass
        record = load.record()
        for q in record["queries"]:  # (a password written in a statement: '***' in the record, the report)
            q["sql"] = without_passwords(q["sql"])
        self.last_load = record  # for \report
        if s.format == "json":
            self.shell.write(json_lines.json_line(record))
        elif s.format == "csv":
            self.shell.write(load_csv(load))
        else:
            self.shell.write(load_text(load, self.shell.style(), self.shell.width()))
        if load.interrupted and not self.shell.interactive:
            raise _Stop(ExitStatus.SCRIPT_STOPPED)
        if pool.blocked_by_you is not None:  # said when seen; the load stopped there, as a failed command
            self.shell.fail("the load was stopped: a staged query waited for your own session")
        elif load.errors:
            self.shell.fail(f"{load.errors:,} of {load.executions:,} executions failed")

    def _load_progress(self, pool: LoadPool) -> None:
        width = shutil.get_terminal_size((100, 24)).columns
        while True:
            gevent.sleep(0.2)
            self.shell.err.write("\r\x1b[K" + progress_line(pool.progress(), width))
            self.shell.err.flush()
