"""CSV output: psql's ``--csv``, byte for byte, and the staged runs as CSV tables.

psql's rules (src/fe_utils/print.c, ``csv_print_field`` and ``print_csv_text``): the
separator is a comma; a field is enclosed in double quotes, its quotes doubled, when it
contains the separator, a double quote, a CR or a LF, or is exactly ``\\.``; any other
field is written as it is (spaces, tabs, unicode, control characters untouched). NULL
is written as an empty field (psql's default ``\\pset null``), like an empty string. One
header line of column names (quoted by the same rule), one line per row, every line
ending in ``\\n``; no title, no footer. Never touches the database.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from qshell.common.secrets import without_passwords
from qshell.records.results import Column, QueryResult, RunResult, Status

if TYPE_CHECKING:  # pragma: no cover
    from qshell.output.psql_formats import PrintOptions

SEP = ","


def field(value: str | None, sep: str = SEP) -> str:
    """One field as psql's ``csv_print_field`` writes it (NULL: an empty field); a
    separator of a backslash or a dot (``\\pset csv_fieldsep``) quotes every field, as psql."""
    if value is None:
        return '""' if sep in "\\." else ""
    if sep in value or "\r" in value or "\n" in value or '"' in value or value == "\\." or sep in "\\.":
        return '"' + value.replace('"', '""') + '"'
    return value


def line(values: Iterable[object], sep: str = SEP) -> str:
    """One record, ending in ``\\n`` (values other than str and None are written with str())."""
    return sep.join(field(v if v is None or isinstance(v, str) else str(v), sep) for v in values) + "\n"


def header(columns: Sequence[Column], sep: str = SEP) -> str:
    return line((c.name for c in columns), sep)


def rows(batch: Sequence[Sequence[Any]], sep: str = SEP, expanded: Sequence[str] | None = None, null: str = "") -> str:
    """Records of one result (all as wide), each ending in ``\\n``. A batch of text values
    none of which needs quoting is joined whole (C string methods over the batch, no call
    per value): it needs none when the joined text has exactly the separators and newlines
    the joins put there and no double quote, CR or ``\\.``; any other batch goes field by
    field. ``expanded``: the column names, for psql's expanded CSV (``name,value`` a line)."""
    if not batch or not batch[0]:  # (rows of no columns: psql writes nothing for them)
        return ""
    if null:  # a null display set (psql writes it in CSV too)
        batch = [r if None not in r else tuple(null if v is None else v for v in r) for r in batch]
    if expanded is not None:
        return "".join(line((name, v), sep) for row in batch for name, v in zip(expanded, row, strict=True))
    if sep != SEP:
        return "".join(line(r, sep) for r in batch)
    try:
        text = "\n".join(map(SEP.join, batch))
    except TypeError:  # a NULL (an empty field), or a value that is not text
        batch = [r if None not in r else tuple("" if v is None else v for v in r) for r in batch]
        try:
            text = "\n".join(map(SEP.join, batch))
        except TypeError:
            return "".join(line(r) for r in batch)
    n, width = len(batch), len(batch[0])
    if ('"' in text or "\r" in text or "\\." in text or text.count("\n") != n - 1
            or text.count(SEP) != n * (width - 1)):
        return "".join(line(r) for r in batch)
    return text + "\n"


def table(q: QueryResult, opts: PrintOptions | None = None, expanded: bool = False, null: str = "") -> str:
    """The header and the rows ``q`` kept, as psql prints a result (without the last ``\\n``);
    ``opts``: psql's ``csv_fieldsep`` and ``tuples_only`` (no header), and expanded display."""
    sep = opts.csv_fieldsep if opts is not None else SEP
    head = "" if expanded or (opts is not None and opts.tuples_only) else header(q.columns, sep)
    return (head + rows(q.rows, sep, [c.name for c in q.columns] if expanded else None, null))[:-1]


# -- staged runs -----------------------------------------------------------------
SUMMARY_COLUMNS = ("index", "sql", "worker", "pid", "status", "command", "rows", "wait_ms", "run_ms",
                   "start_ms", "end_ms", "error", "sqlstate", "waits", "blocked_by", "slowdown", "host", "role",
                   "pool_wait_ms")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def summary_rows(run: RunResult, slow: Mapping[int, float] | None = None) -> list[list[object]]:
    """One row per staged query (SUMMARY_COLUMNS): everything but its result rows."""
    slow = slow or {}
    out = []
    for q in run.queries:
        ok = q.status is Status.OK
        out.append([
            q.index, without_passwords(q.sql), q.worker, q.pid, str(q.status), q.command if ok else None,
            q.rowcount if ok else None, _ms(q.wait_s), _ms(q.total_s), _ms(q.start_s), _ms(q.end_s),
            q.error, q.sqlstate,
            "; ".join(f"{name} {share:.4f}" for name, share in q.waits) or None,
            "; ".join(f"{who} {t * 1000:.3f} ms" for who, t in q.blocked_by) or None,
            f"{slow[q.index]:.4f}" if q.index in slow else None,
            q.server.host if q.server else None, None if q.server is None else q.server.role,
            None if q.pool_wait_s is None else _ms(q.pool_wait_s),
        ])
    return out


def summary(run: RunResult, slow: Mapping[int, float] | None = None, rep: int | None = None) -> str:
    """The run as one CSV table (header included), without the last ``\\n``."""
    head = (("rep",) if rep is not None else ()) + SUMMARY_COLUMNS
    body = [([rep] if rep is not None else []) + r for r in summary_rows(run, slow)]
    return (line(head) + "".join(line(r) for r in body))[:-1]


def repeat(runs: Sequence[RunResult]) -> str:
    """``\\go N*R``: every repetition's queries in one table, ``rep`` first (1 is the cold one)."""
    head = line(("rep",) + SUMMARY_COLUMNS)
    body = "".join(line([i] + r) for i, run in enumerate(runs, start=1) for r in summary_rows(run))
    return (head + body)[:-1]


SWEEP_COLUMNS = ("n", "wall_ms", "speedup", "efficiency", "bound_ms", "failed", "serial_estimated",
                 "backends_cores", "machine_busy", "other")


def _opt(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def sweep(rows_: Sequence[dict]) -> str:
    """``\\sweep``: one row per N (run_series.sweep_rows), without the last ``\\n``."""
    body = "".join(line([r["n"], f"{r['wall_ms']:.3f}", f"{r['speedup']:.4f}", f"{r['efficiency']:.4f}",
                         f"{r['bound_ms']:.3f}", r["failed"], "true" if r["serial_estimated"] else "false",
                         _opt(r.get("backends_cores")), _opt(r.get("machine_busy")), _opt(r.get("other"))])
                   for r in rows_)
    return (line(SWEEP_COLUMNS) + body)[:-1]


TARGET_SWEEP_COLUMNS = ("target", "n", "wall_ms", "vs_first", "speedup", "efficiency", "bound_ms", "failed",
                        "serial_estimated", "servers", "run_id")


def target_sweep(rows_: Sequence[dict]) -> str:
    """``\\sweep N… on TARGET…``: one row per target and N (run_series.target_sweep_rows); the
    servers as ``host role queries`` separated by ``; ``; without the last ``\n``."""
    body = "".join(line([r["target"], r["n"], f"{r['wall_ms']:.3f}", "" if r["vs_first"] is None else f"{r['vs_first']:.4f}",
                         f"{r['speedup']:.4f}", f"{r['efficiency']:.4f}", f"{r['bound_ms']:.3f}", r["failed"],
                         "true" if r["serial_estimated"] else "false",
                         "; ".join(f"{h['host']} {'standby' if h['standby'] else 'primary'} {h['queries']}" for h in r["servers"]),
                         r["run_id"]])
                   for r in rows_)
    return (line(TARGET_SWEEP_COLUMNS) + body)[:-1]
