"""``\\lab``: the guided experiments, spec files shipped in the package (``qshell/lab/``).

``\\lab`` lists them with the first line of each one's comment; ``\\lab NAME`` prints its
comment (what to look for) and loads it into named sessions (``\\session``: its sessions
opened, its steps recorded, for ``\\permute``); ``\\lab NAME run`` runs it whole as ``\\spec``
does (isolationtester's text, at the server's default isolation level); ``\\lab NAME under
L1, L2…`` prints its anomaly table.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from qshell.common.errors import UsageError
from qshell.output import json_lines
from qshell.records.anomaly import AnomalyTable
from qshell.script.commands import Command
from qshell.script.spec import Spec, SpecError, parse
from qshell.shell.anomaly import run_table, split_under
from qshell.shell.host import ShellHost
from qshell.shell.isolation import IsolationCommands, run_spec

if TYPE_CHECKING:
    from qshell.shell.sessions import SessionCommands

LAB_DIR = Path(__file__).resolve().parent.parent / "lab"


def lab_specs() -> dict[str, Path]:
    """The experiments: name -> spec file."""
    return {p.stem: p for p in sorted(LAB_DIR.glob("*.spec"))}


def explanation(path: Path) -> list[str]:
    """The comment lines that open a spec file, without their ``#``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        out.append(line[1:].strip())
    return out


def summary(path: Path) -> str:
    """The first sentence of a spec's opening comment (what \\lab lists)."""
    text = " ".join(explanation(path))
    dot = text.find(". ")
    return text if dot < 0 else text[:dot + 1]


def lab_spec(name: str) -> tuple[Path, Spec]:
    """The experiment ``name`` (its file and spec); UsageError listing the names otherwise."""
    specs = lab_specs()
    path = specs.get(name)
    if path is None:
        raise UsageError(f"\\lab: no experiment {name!r} (\\lab lists them: {', '.join(specs)})")
    try:
        return path, parse(path.read_text(encoding="utf-8"))
    except SpecError as exc:  # pragma: no cover - the shipped specs are tested
        raise UsageError(f"\\lab: {name}: {exc}") from None


class LabCommands:
    """``\\lab [NAME [under LEVELS]]``; the table of the last ``under`` is kept on the
    isolation group (``last_table``) for ``\\report``."""

    def __init__(self, shell: ShellHost, isolation: IsolationCommands, sessions: "SessionCommands | None" = None) -> None:
        self.shell = shell
        self.isolation = isolation
        self.sessions = sessions  # \\session's group: \\lab NAME loads the experiment there

    def do_lab(self, cmd: Command) -> None:
        if not cmd.arg.strip():
            self._list()
            return
        words = cmd.arg.split()
        run = len(words) == 2 and words[1] == "run"  # \\lab NAME run
        name, levels = split_under(words[0] if run else cmd.arg, "lab")
        path, spec = lab_spec(name)
        session = self.shell.session
        if levels is None and not run and self.sessions is not None:
            if not self.shell.json:
                self.shell.write("\n".join(f"-- {line}" for line in explanation(path)) + "\n")
            self.sessions.load(spec)
            steps = " ".join(st.name for st in spec.steps())
            self.shell.notice(f"\\lab {name}: loaded as sessions {', '.join(s.name for s in spec.sessions)} with steps"
                              f" {steps}: \\permute runs every interleaving, \\permute STEP... one; \\lab {name} run"
                              f" runs the spec whole, \\lab {name} under LEVELS its anomaly table")
            return
        if levels is not None:
            table: AnomalyTable = run_table(spec, levels, session.dsn, session.pool._password, self.shell.out,
                                            json=self.shell.json, name=name, err=self.shell.err)
            self.isolation.last_table = (time.time(), table)
            return
        if not self.shell.json:
            self.shell.write("\n".join(f"-- {line}" for line in explanation(path)) + "\n")
        self.isolation.last_run = run_spec(spec, session.dsn, session.pool._password, self.shell.out, self.shell.err)
        if self.isolation.last_run.status:
            self.shell.fail(f"\\lab {name}: the run stopped (isolationtester exits 1 there)")

    def _list(self) -> None:
        specs = lab_specs()
        if self.shell.json:
            for name, path in specs.items():
                self.shell.write(json_lines.json_line({"type": "lab", "name": name, "about": explanation(path)}))
            return
        width = max(len(n) for n in specs)
        lines = [f"  {name.ljust(width)}  {summary(path)}" for name, path in specs.items()]
        self.shell.write("Experiments (\\lab NAME loads one into sessions for \\permute; \\lab NAME run runs it;"
                         " \\lab NAME under read committed, repeatable read, serializable: its anomaly table):\n"
                         + "\n".join(lines))
