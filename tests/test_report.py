"""\\report FILE.html: one self-contained HTML page, checked as text and in a real
headless Chromium (Debian's package; .ci/run installs it).

The page must load nothing from anywhere (no http(s) address, no ``src=`` but
``data:``, a Content-Security-Policy), show text from data only as text (a query holding
``<script>`` and ``<img onerror>`` stays text), and render: the browser's DOM after
loading holds the timeline's bars, the per-query table's rows and the legend, and its
screenshot is not blank (decoded here with zlib/struct: many colours, the wait-event
colours of the bars). No time is asserted.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qshell import explore, report

HOSTILE = """SELECT '<script>document.title="pwned"</script><img src=x onerror="document.title=1">' AS x, pg_sleep(0.3)"""
TABLE_BREAKER = "SELECT '</td></tr></table><h1>big</h1>' AS y, pg_sleep(0.2)"
STAGED = [HOSTILE, "SELECT pg_sleep(0.4)", TABLE_BREAKER, "SELECT 1/0"]
SCRIPT = "".join(f"\\add {sql};\n" for sql in STAGED) + "\\go 2\n"

TIMEOUT_PURPLE = bytes.fromhex(report.WAIT_COLOURS["Timeout"][1:])  # the bars of pg_sleep (Timeout:PgSleep)
ERROR_RED = bytes.fromhex(report.STATUS_STROKE["error"][1:])


# -- the browser -------------------------------------------------------------------------
def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium() -> str:
    """The headless browser; in CI its absence fails the test, locally it skips it."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed: the HTML report must be checked in a real browser (apt-get install chromium)"
    if _in_ci():
        pytest.fail(message + "; .ci/run installs it, so CI must have it")
    pytest.skip(message)


def browse(page: Path, tmp_path: Path, *, screenshot: Path | None = None) -> str:
    """Load ``page`` in headless Chromium; the DOM after loading (or a screenshot)."""
    args = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1200,2000"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = subprocess.run(args + [page.resolve().as_uri()], capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    if screenshot:
        assert screenshot.exists(), proc.stderr.decode("utf-8", "replace")[-2000:]
    return proc.stdout.decode("utf-8")


class Elements(HTMLParser):
    """Every element of a document: (tag, attributes), and the text of <title>."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title" and not any(t == "title" for t, _ in self.elements[:-1])  # the document's

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def having(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and (cls is None or cls in a.get("class", "").split())]


def png_pixels(data: bytes) -> tuple[int, int, Counter[bytes]]:
    """Width, height and a count of each RGB colour of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = depth = ctype = interlace = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours: Counter[bytes] = Counter()
    for y in range(height):
        base = y * (stride + 1)
        kind_ = raw[base]
        line = bytearray(raw[base + 1:base + 1 + stride])
        if kind_ == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind_ == 2:  # Up
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind_ == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind_ == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, colours


# -- static checks ---------------------------------------------------------------------------
def assert_self_contained(text: str) -> None:
    low = text.lower()
    assert "http://" not in low and "https://" not in low
    for tag, attrs in Elements(text).elements:  # what the browser would load: only data: or the page itself
        for name in ("src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data", "background"):
            if name in attrs:
                assert attrs[name].strip().lower().startswith(("data:", "#")), (tag, name, attrs[name])
    assert "@import" not in low and "<link" not in low and "<iframe" not in low and "<object" not in low
    for m in re.finditer(r"url\(\s*['\"]?([^)'\"]*)", low):
        assert m.group(1).startswith(("#", "data:")), m.group(0)
    assert "content-security-policy" in low and "default-src 'none'" in low
    scripts = re.findall(r"<script\b[^>]*>", low)
    assert scripts == ['<script type="application/json" id="qshell-data">'], scripts


def embedded(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="qshell-data">(.*?)</script>', text, re.S)
    assert m is not None
    return json.loads(m.group(1))


def make_report(qshell, path: Path, script: str = SCRIPT):  # noqa: ANN001, ANN201
    r = qshell(script + f"\\report {path}\n")
    assert path.exists(), r.err
    assert "report of the last run written to" in r.err, r.err
    return r


# -- through the shell ------------------------------------------------------------------
def test_report_of_a_run_is_one_self_contained_page_with_data_as_text(qshell, tmp_path):
    page = tmp_path / "run.html"
    r = make_report(qshell, page)
    assert r.code == 1  # SELECT 1/0 failed; the report is written all the same
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    # the hostile query is text, escaped, wherever it appears
    assert "<script>document" not in text and "<img" not in text and "<h1>big" not in text
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in text
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;big" in text
    # the data rides along as JSON: the run record and its query records, exact SQL included
    doc = embedded(text)
    assert doc["type"] == "run" and doc["n"] == 2 and doc["queries"] == 4 and doc["failed"] == 1
    assert [q["sql"] for q in doc["results"]] == STAGED
    assert [q["status"] for q in doc["results"]] == ["ok", "ok", "ok", "error"]
    assert doc["results"][3]["sqlstate"] == "22012"
    for field in ("wall_ms", "overlap", "bound_ms", "efficiency", "client_bound", "mode"):
        assert field in doc
    assert "division by zero" in text and "tx autocommit" in text


def test_report_renders_in_headless_chromium(qshell, tmp_path):
    page = tmp_path / "run.html"
    make_report(qshell, page)
    dom = Elements(browse(page, tmp_path))
    assert "pwned" not in dom.title and dom.title.startswith("qshell report: run at N=2")
    assert not dom.having("img") and len(dom.having("h1")) == 1  # the report's own title only
    assert len(dom.having("script")) == 1  # the JSON data block, nothing else
    assert len(dom.having("svg", "timeline")) == 1
    bars = dom.having("g", "bar")
    assert sorted(int(b["data-index"]) for b in bars) == [1, 2, 3, 4]
    assert {b["data-index"] for b in bars if "status-error" in b["class"]} == {"4"}
    assert any(b["data-wait"] == "Timeout:PgSleep" for b in bars)
    assert len(dom.having("svg", "timeline")) == 1 and dom.having("div", "legend")
    assert len(dom.having("table", "queries")) == 1
    assert len([a for t, a in dom.elements if t == "tr"]) >= 5  # header + one row per query
    assert dom.having("span", "st-error")

    shot = tmp_path / "run.png"
    browse(page, tmp_path, screenshot=shot)
    width, height, colours = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2000)
    painted = sum(n for c, n in colours.items() if c != b"\xff\xff\xff")
    assert painted > 0.03 * width * height, f"only {painted} non-white pixels"
    assert len(colours) > 100, f"only {len(colours)} colours"
    assert colours[TIMEOUT_PURPLE] > 2000, "the pg_sleep bars (Timeout:PgSleep colour) are not drawn"
    assert colours[ERROR_RED] > 0, "the failed query is not marked"


def test_report_errors_are_one_line(qshell, tmp_path):
    r = qshell(f"\\report {tmp_path / 'early.html'}\n")
    assert r.code == 1 and not (tmp_path / "early.html").exists()
    assert r.err.count("\n") == 1 and "nothing to report" in r.err and "Traceback" not in r.err

    r = qshell("\\add SELECT 1;\n\\go 1\n\\report /nonexistent/x.html\n")
    assert r.code == 1
    lines = r.err.splitlines()
    assert len(lines) == 1 and "\\report: /nonexistent/x.html: No such file or directory" in lines[0], r.err

    r = qshell(f"\\add SELECT 1;\n\\go 1\n\\report {tmp_path}\n")
    assert r.code == 1 and "Is a directory" in r.err and r.err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "history"]  # no temporary file left behind

    r = qshell("\\report\n")
    assert r.code == 1 and "needs one file name" in r.err


def test_report_json_mode_keeps_stdout_json(qshell, tmp_path):
    page = tmp_path / "r.html"
    r = qshell(f"\\add SELECT 1;\n\\go 1\n\\report {page}\n", "--format", "json")
    assert r.code == 0 and page.exists()
    for line in r.out.splitlines():
        json.loads(line)  # the report's message went to stderr


# -- sweeps, repeats, loads: from the engine's results (and the shell once it keeps them) ------------
def _runs(db, ns):  # noqa: ANN001, ANN202
    from qshell.pool import QueryPool
    from qshell.sampler import Sampler

    qs = ["SELECT pg_sleep(0.3)", "SELECT pg_sleep(0.2)", "SELECT pg_sleep(0.1)", "SELECT 1/0"]
    return [QueryPool(db, qs, n, sampler=Sampler(db)).run() for n in ns]


def test_sweep_report_has_its_chart_and_every_run(db, tmp_path):
    runs = _runs(db, [1, 2, 3])
    doc = report.sweep_doc(runs, ["a", "b", "c"])
    page = tmp_path / "sweep.html"
    page.write_text(report.page(doc, {"target": "u@h:1/d", "command": "\\sweep 1 2 3"}), encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    assert embedded(text)["rows"] == doc["rows"] and [r["n"] for r in doc["rows"]] == [1, 2, 3]
    dom = Elements(browse(page, tmp_path))
    assert len(dom.having("svg", "sweep-chart")) == 1
    assert [g["data-n"] for g in dom.having("g", "sweep-bar")] == ["1", "2", "3"]
    assert len(dom.having("svg", "timeline")) == 3 and len(dom.having("table", "queries")) == 3
    assert dom.having("polyline", "speedup")
    shot = tmp_path / "sweep.png"
    browse(page, tmp_path, screenshot=shot)
    _, _, colours = png_pixels(shot.read_bytes())
    assert colours[bytes.fromhex("90caf9")] > 1000, "the wall bars of the sweep chart are not drawn"


def test_repeat_report_has_its_statistics(db, tmp_path):
    runs = _runs(db, [2, 2, 2])
    doc = report.repeat_doc(runs, ["a", "b", "c"])
    text = report.page(doc)
    assert_self_contained(text)
    dom = Elements(text)
    assert len(dom.having("svg", "repeat-chart")) == 1 and len(dom.having("table", "stats")) == 1
    assert len(dom.having("details", "run")) == 3 and "(cold)" in text


def test_load_record_renders_from_its_json(tmp_path):
    """A sustained load's record (issue 13's JSON) renders; nothing runs it yet."""
    load = {"type": "load", "n": 4, "duration_s": 3, "rate": None, "executions": 300, "qps": 100.0, "late": 0,
            "latency_ms": {"p50": 1.5, "p95": 4.0, "p99": 6.5, "max": 9.0}, "per_second": [95, 105, 100],
            "queries": [{"index": 1, "count": 150, "errors": 0, "p50_ms": 1.4, "p95_ms": 3.9, "p99_ms": 6.0, "max_ms": 8.0},
                        {"index": 2, "count": 150, "errors": 2, "p50_ms": 1.6, "p95_ms": 4.1, "p99_ms": 7.0, "max_ms": 9.0}],
            "errors_by_sqlstate": {"40001": 2}}
    text = report.page(load)
    assert_self_contained(text)
    dom = Elements(text)
    assert len(dom.having("svg", "throughput-chart")) == 1
    assert len([1 for t, a in dom.elements if t == "rect"]) >= 3
    assert len(dom.having("table", "load-queries")) == 1 and "errors_by_sqlstate" in text


def test_fields_added_later_appear_without_a_new_renderer():
    """Per-query resources, plan figures, retries...: unknown fields of a query record
    become columns (a dict one column per key); of a run record, 'more figures'."""
    doc = {"type": "run", "n": 1, "queries": 1, "wall_ms": 5.0, "retries": 2,
           "results": [{"index": 1, "sql": "SELECT 1", "status": "ok", "worker": 0, "total_ms": 5.0, "end_ms": 5.0,
                        "buffers": {"shared_hit": 12, "shared_read": 3}, "workers_launched": 1}]}
    text = report.page(doc)
    for header in ("buffers.shared_hit", "buffers.shared_read", "workers_launched", "More figures", "retries"):
        assert header in text


def test_the_last_thing_measured_is_reported():
    """A sweep or repeat is reported when its last run is the shell's last run; a later
    \\go wins; a load wins when it started after the last run."""
    from qshell.results import QueryResult, RunResult, Status

    def run(n: int, at: float) -> RunResult:
        return RunResult(n=n, started_at=at, wall_s=0.1, queries=(QueryResult(1, "SELECT 1", Status.OK, worker=0, exec_s=0.1, end_s=0.1),))

    class Host(report.ReportCommands):
        last_run = None
        _alone: dict = {}

    h = Host()
    assert h.report_doc() is None
    a, b = run(1, 10.0), run(2, 11.0)
    h.last_run, h.last_sweep = b, ([a, b], ["ia", "ib"])  # type: ignore[attr-defined]
    doc, cmd = h.report_doc()  # type: ignore[misc]
    assert doc["type"] == "sweep" and cmd == "\\sweep 1 2"
    h.last_run = c = run(3, 12.0)
    doc, cmd = h.report_doc()  # type: ignore[misc]
    assert doc["type"] == "run" and doc["n"] == 3 and cmd == "\\go 3"
    h.last_repeat = ([run(2, 13.0), c], ["x", "y"])  # type: ignore[attr-defined]
    assert h.report_doc()[0]["type"] == "repeat"  # type: ignore[index]
    h.last_load = {"type": "load", "n": 2, "started_at": 14.0}  # type: ignore[attr-defined]
    assert h.report_doc()[0]["type"] == "load"  # type: ignore[index]


KEPT = "last_sweep" in inspect.getsource(explore) and "last_repeat" in inspect.getsource(explore)


@pytest.mark.xfail(not KEPT, strict=True, reason="explore.py does not keep self.last_sweep / self.last_repeat yet")
def test_report_after_sweep_and_repeat_through_the_shell(qshell, tmp_path):
    sweep, rep = tmp_path / "s.html", tmp_path / "r.html"
    r = qshell(f"\\add SELECT pg_sleep(0.05);\n\\add SELECT 1;\n\\sweep 1 2\n\\report {sweep}\n\\go 2 x3\n\\report {rep}\n")
    assert r.code == 0, r.err
    assert embedded(sweep.read_text(encoding="utf-8"))["type"] == "sweep"
    assert embedded(rep.read_text(encoding="utf-8"))["type"] == "repeat"
