"""The README stays true and short: its sample session is qshell's real output, its links
resolve, and it fits in about 200 lines.

The sample is replayed as a terminal user types it: ``qshell`` with no connection named
(its own sandbox, in a temporary directory), the shell in interactive mode, each input
line after the prompt qshell itself computes (``terminal._message``, what prompt_toolkit
shows), stdout and stderr on one screen. Only prompt_toolkit's line editing is left out.
Before comparing, only what varies from run to run is normalised: durations and other
decimals, percentages, pids and buffer counts in the tables, the CPU line's figures and
verdict (they follow the machine's load), wait events seen under 10% of the samples, the
sandbox's directory, trailing blanks and the width of table columns (which follow those
numbers). Every word, column name, line and prompt must be the same: a changed output
fails this test until the README shows the new one.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from qshell import cli
from qshell.script.reader import EntryBuilder
from qshell.session.sandbox import CONNECTION_ENV
from qshell.shell import terminal

README = Path(__file__).resolve().parent.parent / "README.md"
MAX_LINES = 200
MARK = "<!-- This block is checked by tests/test_readme.py"
PROMPT = re.compile(r"^([a-z_][a-z0-9_]*(?:\[\d+\])?[=\-@][*!]?> )(.*)$")
VERDICT = re.compile(r"^(?:(?:not CPU-bound: the machine was \d+% busy \(\d+ cores\)|CPU-bound at \d+ cores: the machine was \d+% busy)"
                     r"(?:; other processes took \d+% of the CPU during this run)?"
                     r"|CPU-bound at \d+ cores by other processes: the machine was \d+% busy, other processes took \d+% "
                     r"of the CPU during this run \(the run itself did not fill it\))$")
MINOR_WAIT = re.compile(r", [A-Za-z]+(?::[A-Za-z]+)? (\d+)%")


def sample_block() -> list[str]:
    """The lines of the fenced block after the README's marker comment."""
    lines = README.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(MARK))
    assert lines[start + 1].startswith("```"), "the sample's fence must follow the marker line"
    end = next(i for i in range(start + 2, len(lines)) if lines[i].startswith("```"))
    return lines[start + 2:end]


def normalise(text: str) -> list[str]:
    """What varies between runs, replaced; see the module's docstring."""
    out = []
    for line in text.rstrip("\n").split("\n"):
        line = line.rstrip()
        if PROMPT.match(line):  # a prompt and what was typed after it: exact
            out.append(line)
            continue
        line = re.sub(r"data in [^)]*\)", "data in DIR)", line)
        if VERDICT.match(line):
            out.append("CPU VERDICT")
            continue
        line = MINOR_WAIT.sub(lambda m: "" if int(m.group(1)) < 10 else m.group(0), line)
        line = re.sub(r"\d+\.\d+", "9.9", line)
        line = re.sub(r"\d+%", "9%", line)
        if line.startswith(("CPU:", "   resources ")):
            line = re.sub(r"\d+", "9", line)
        if " | " in line or re.fullmatch(r"[-+]+", line) or line.endswith(" |"):
            line = re.sub(r"\d+", "9", line)
            line = re.sub(r" +", " ", re.sub(r"-+", "-", line)).strip()
        out.append(line)
    return out


class _Screen(io.StringIO):
    """The terminal's screen: qshell's stdout, a terminal."""

    def isatty(self) -> bool:
        return True


class _ScreenErr:
    """stderr, written on the same screen in order (not a terminal: no live status line,
    which a terminal erases when the run ends)."""

    def __init__(self, screen: _Screen) -> None:
        self.screen = screen

    def write(self, text: str) -> int:
        return self.screen.write(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Keyboard(io.BytesIO):
    def isatty(self) -> bool:
        return True


def replay(command: str, typed: list[str], tmp_path: Path, monkeypatch) -> tuple[int, str]:  # noqa: ANN001
    """Run ``command`` (``qshell ARGS``) as in a terminal, typing ``typed``; (exit, screen)."""
    words = command.split()
    assert words[0] == "qshell", f"the sample must start with '$ qshell', got {command!r}"
    screen = _Screen()

    def keyboard(shell, history_file):  # noqa: ANN001, ANN202 - terminal.entries without prompt_toolkit's editing
        builder = EntryBuilder(terminal.SOURCE, shell.context)
        for line in typed:
            screen.write(terminal._message(shell, builder) + line + "\n")
            yield from builder.feed(line)
        leftover, error = builder.finish(send_pending=False)
        yield from leftover
        assert error is None, error

    for name in CONNECTION_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # a terminal the output fits in (else it goes through the pager)
    monkeypatch.setenv("LINES", "60")
    monkeypatch.setattr(terminal, "entries", keyboard)
    argv = ["--sandbox-dir", str(tmp_path / "sandbox"), "--history-dir", str(tmp_path / "history"), *words[1:]]
    code = cli.main(argv, stdin=_Keyboard(b""), stdout=screen, stderr=_ScreenErr(screen))
    return code, screen.getvalue()


@pytest.mark.slow
def test_the_sample_session_is_real_output(sandbox_tmp, monkeypatch):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    block = sample_block()
    assert block[0].startswith("$ "), "the sample starts with the command typed"
    typed = [m.group(2) for m in map(PROMPT.match, block[1:]) if m]
    assert typed and typed[-1] == "\\q", "the sample ends with \\q"
    code, screen = replay(block[0][2:], typed, tmp_path, monkeypatch)
    assert code == 0, screen
    expected, seen = normalise("\n".join(block[1:])), normalise(screen)
    assert seen == expected, "README's sample differs from qshell's output; qshell printed:\n" + screen


def test_normalising_keeps_the_words():
    """Only figures are replaced: a changed word, column or count of rows still differs."""
    assert normalise("── #1 · worker 0 · ok · 1 row · wait 0.2 ms · run 1001.5 ms") == [
        "── #1 · worker 0 · ok · 1 row · wait 9.9 ms · run 9.9 ms"]
    assert normalise("   waits Timeout:PgSleep 96%, CPU 4%") == normalise("   waits Timeout:PgSleep 100%")
    assert normalise("   waits Timeout:PgSleep 60%, CPU 40%") != normalise("   waits Timeout:PgSleep 100%")
    assert normalise(" pg_sleep |  q   ") != normalise(" pg_sleep |  r   ")
    assert normalise("(1 row)") != normalise("(2 rows)")
    assert normalise("not CPU-bound: the machine was 5% busy (2 cores)") == ["CPU VERDICT"]
    assert normalise("not CPU-bound: the box was 5% busy (2 cores)") != ["CPU VERDICT"]


def test_readme_fits_on_a_few_screens():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; at most {MAX_LINES}: move details into docs/"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


def test_readme_links_resolve():
    """Every relative link of the README names a file of the checkout, and every #anchor a
    heading of its page (as GitHub makes them)."""
    text = re.sub(r"```.*?```", "", README.read_text(encoding="utf-8"), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = README.parent / target if target else README
        assert path.exists(), f"README links to {link}: no such file"
        if anchor:
            assert anchor in _anchors(path), f"README links to {link}: no such heading"
