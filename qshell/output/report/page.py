"""The page skeleton: the sections of each document type, the CSS, the data block, and the file written."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from qshell import __version__
from qshell.common.visible import json_text
from qshell.output.report.anomaly_sections import anomaly_table_section, timelines_section
from qshell.output.report.basics import CSP, Doc, esc
from qshell.output.report.run_sections import render_run
from qshell.output.report.series_sections import (
    compare_section,
    load_section,
    repeat_section,
    runs_list_section,
    runs_section,
    sweep_section,
    targets_section,
)

SECTIONS: dict[str, list[Callable[..., str]]] = {
    "run": [render_run],
    "sweep": [sweep_section, runs_section],
    "targets": [targets_section, runs_section],
    "repeat": [repeat_section, runs_section],
    "load": [load_section],
    "runs": [runs_list_section, runs_section],
    "compare": [compare_section, runs_section],
    "anomaly": [anomaly_table_section, timelines_section],
}

TITLES = {"run": "run", "sweep": "sweep", "targets": "sweep over targets", "repeat": "repeated run", "load": "sustained load",
          "runs": "runs", "compare": "comparison of two runs", "anomaly": "anomaly table"}


CSS = """
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif;
 margin:24px 32px;max-width:1400px;color:#212121;background:#fff;font-size:14px;line-height:1.4}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
h2.inline{display:inline;border:0;font-size:17px} h3{font-size:15px;margin:20px 0 8px}
.meta{color:#546e7a;margin-bottom:16px} .meta code{color:#37474f}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 12px}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:6px 12px;min-width:110px;background:#fafafa}
.card .label{font-size:11px;color:#607d8b;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
.card.main{background:#e3f2fd;border-color:#90caf9} .card.warn{background:#fff3e0;border-color:#ffb74d}
.card.bad{background:#ffebee;border-color:#ef9a9a}
.note{padding:6px 10px;border-radius:4px} .note.warn{background:#fff3e0} .note.bad{background:#ffebee}
.figure{overflow-x:auto;margin:6px 0} svg text{font-family:inherit;font-size:12px}
svg .tick{fill:#546e7a;font-size:11px} svg .lane-label{fill:#37474f;font-weight:600}
svg .bar-label{font-size:11px;font-weight:600;pointer-events:none} svg .point-label{fill:#bf360c;font-size:11px;font-weight:600}
svg .muted{fill:#90a4ae}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:12px;margin:4px 0 8px}
.key{display:inline-flex;align-items:center;gap:5px}
.swatch{display:inline-block;width:14px;height:14px;border-radius:2px;border:1px solid rgba(0,0,0,.15)}
.swatch.dash{height:0;border:0;border-top:2px dashed;width:18px;border-radius:0}
.swatch.wall-key{height:14px;width:0;border:0;border-left:2px dashed #263238;border-radius:0}
.swatch.hatch-error{background:repeating-linear-gradient(45deg,#b71c1c 0 3px,#fff 3px 6px);border:2px solid #b71c1c}
.swatch.hatch-timeout{background:repeating-linear-gradient(-45deg,#e65100 0 3px,#fff 3px 6px);border:2px dashed #e65100}
.swatch.hatch-cancelled{background:repeating-linear-gradient(0deg,#37474f 0 2px,#fff 2px 5px);border:2px dotted #37474f}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #eceff1;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f7f8;font-weight:600;font-size:12px;color:#455a64;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
code.sql{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
td.sql{min-width:15em;max-width:34em} details.sql>summary,details.long>summary{cursor:pointer}
details.sql[open]>summary code.sql{color:#78909c}
tr.sub>td{border-bottom:1px solid #eceff1;padding-top:0} tr:has(+tr.sub)>td{border-bottom:0}
.msg{overflow-wrap:anywhere;max-width:80em}
ul.plan{list-style:none;margin:0 0 4px;padding:0;font-size:12px} ul.plan li{padding-left:1.4em;text-indent:-1.4em;overflow-wrap:anywhere}
table.kv{margin:2px 0} table.kv td,table.kv th{padding:2px 6px;font-size:12px}
svg{max-width:100%;height:auto} .graphs{display:flex;flex-wrap:wrap;gap:12px}
svg .node-title{font-weight:600;font-size:12px;fill:#263238} svg .node-line{font-size:11px;fill:#37474f;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
svg .node-mark{font-size:10px;font-weight:700;fill:#fff} svg .edge-label{font-size:11px;fill:#263238}
pre.sql-full{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;background:#f5f7f8;padding:6px 8px;
 white-space:pre-wrap;word-break:break-word;margin:4px 0}
.scroll{overflow-x:auto} .small{font-size:12px} .muted{color:#78909c}
.status{padding:1px 6px;border-radius:3px;font-size:12px;font-weight:600}
.st-ok{background:#e8f5e9;color:#1b5e20} .st-error{background:#ffebee;color:#b71c1c}
.st-timeout{background:#fff3e0;color:#e65100} .st-cancelled{background:#eceff1;color:#37474f}
.error-text{color:#b71c1c;font-weight:600;overflow-wrap:anywhere}
.nowrap{white-space:nowrap} .notice{color:#6d4c41}
.waitbar{display:flex;width:120px;height:8px;border-radius:2px;overflow:hidden;background:#eceff1;margin-top:3px}
.waitbar span{display:block;height:100%}
details.run{margin:14px 0;border-top:1px solid #e0e0e0;padding-top:6px} details.run>summary{cursor:pointer}
table.anomaly td.anomaly{background:#ffebee}
footer{margin-top:32px;color:#90a4ae;font-size:12px}
@media print{.figure{overflow:visible}}
@media (max-width:900px){body{margin:16px 12px} td.sql{min-width:9em} th,td{padding:4px 4px} .card{min-width:90px}
 th{white-space:normal}}
"""


def _data_block(doc: Doc) -> str:
    """The document as JSON in a non-executable block; ``<``, ``>`` and ``&`` as \\u escapes
    so no text in it can end the block."""
    text = json_text(doc)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="qshell-data">{text}</script>'


def page(doc: Doc, meta: Mapping[str, Any] | None = None) -> str:
    """The whole HTML page for a document (run, sweep, repeat or load)."""
    meta = dict(meta or {})
    kind = str(doc.get("type") or "run")
    if kind not in SECTIONS:
        raise ValueError(f"no report for a {kind!r} record")
    title = f"qshell report: {TITLES.get(kind, kind)}"
    if doc.get("n") is not None:
        title += f" at N={doc.get('n')}"
    target = meta.get("target")
    made = meta.get("generated_at") or time.time()
    bits = []
    if target:
        bits.append(f"target <code>{esc(target)}</code>")
    if meta.get("server_version"):
        bits.append(f"PostgreSQL {esc(meta['server_version'])}" + (" (qshell's sandbox)" if meta.get("sandbox") else ""))
    if meta.get("command"):
        bits.append(f"<code>{esc(meta['command'])}</code>")
    started = doc.get("started_at") or next((r.get("started_at") for r in doc.get("runs") or []), None)
    if started:
        bits.append("started " + esc(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(started)))))
    body = "".join(section(doc) for section in SECTIONS[kind])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<meta name=\"generator\" content=\"qshell {esc(__version__)}\">"
        f"<title>{esc(title + (' · ' + str(target) if target else ''))}</title><style>{CSS}</style></head>"
        f'<body class="report report-{esc(kind)}"><header><h1>{esc(title)}</h1>'
        f'<div class="meta">{" · ".join(bits)}</div></header><main>{body}</main>'
        f"<footer>Written by qshell {esc(__version__)} on "
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(made))))}; self-contained: no script, "
        f"nothing loaded from the network.</footer>{_data_block(doc)}</body></html>\n"
    )


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, renamed).

    A symbolic link is followed (the file it names is replaced, the link stays), and what
    is not a regular file — a device, a FIFO (``/dev/stdout``, ``/dev/full``) — is written
    into as it is: a rename would replace the device itself with a file."""
    import stat

    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory")
    if path.is_symlink():
        path = path.resolve()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
