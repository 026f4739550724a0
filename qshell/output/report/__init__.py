"""\\report FILE.html: one self-contained HTML page for the last run, sweep, repeat, load
or comparison, or for runs of the run history (``\\report FILE.html RUN…``).

The page is rendered from plain dicts, the same the JSON output gives: a *run
document* is the run record (``json_lines.run_record``) with its ``results`` (the query
records of ``json_lines.query_record``, without rows), exactly as the run history stores it;
a sweep document is ``{"type": "sweep", "rows": run_series.sweep_rows(...), "runs": [run
documents]}``; a repeat document is ``run_series.repeat_record(...)`` plus its ``runs``; a
sustained load is its JSON record (``{"type": "load", ...}``); several runs of the history
``{"type": "runs", "runs": [...]}``; a comparison \\compare's record plus both ``runs``.

Each document type has a list of sections (``SECTIONS``): functions from the document
(and the path of that document inside the page's data, for a run inside a sweep) to an
HTML fragment ("" when they have nothing to show). A field the renderer does not know is
not lost: extra fields of a query record become extra columns of the per-query table (a
dict one column per key), extra fields of a run or load record a table under "more
figures"; a dict or list is always drawn as a table (:func:`value_html`), never as JSON.

Every figure is drawn with the terminal's own format (``FORMATS``) and its cell names
the record key it comes from (``data-key``, ``data-fmt``): tests/test_report.py checks
each against the JSON output. The run's sum ÷ wall is read through :func:`overlap_key`.

Nothing in the page reaches the network: CSS and SVG are inline, there is no script
(the data rides along in a non-executable ``application/json`` block), and a
Content-Security-Policy forbids loading anything. Every text that comes from data goes
through :func:`esc` (control characters escaped as the terminal shows them, then HTML).

The package: ``documents`` (records -> dicts), ``charts`` (SVG), ``cells`` (figures),
``run_sections`` and ``series_sections`` (HTML sections), ``page`` (skeleton, CSS, file).
"""
from qshell.output.report.basics import Doc
from qshell.output.report.documents import repeat_doc, run_doc, sweep_doc, targets_doc
from qshell.output.report.page import TITLES, page, write

__all__ = ["Doc", "TITLES", "page", "repeat_doc", "run_doc", "sweep_doc", "targets_doc", "write"]
