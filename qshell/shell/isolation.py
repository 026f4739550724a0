"""``\\spec FILE.spec`` (and ``qshell --spec FILE.spec``): run an isolationtester spec
and print what isolationtester prints for it, as it happens.

The runner is ``qshell.engine.isolation``; the text comes from its records through
``qshell.output.isolation``. On a terminal the text is shown with control characters
escaped (data never drives the terminal); anywhere else it is written byte for byte.
Ctrl-C cancels the steps running, rolls back the sessions' open transactions and runs
the teardowns, so the database is left as the spec's teardown leaves it.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TextIO

from qshell.common.errors import UsageError
from qshell.common.visible import visible
from qshell.engine.isolation import IsolationRunner
from qshell.output.isolation import render
from qshell.records.anomaly import AnomalyTable
from qshell.records.isolation import STDOUT, Event, SpecRun
from qshell.script.commands import Command
from qshell.script.spec import Spec, SpecError, parse
from qshell.shell.anomaly import run_table, split_under
from qshell.shell.host import ShellHost
from qshell.shell.interrupt import sigint_calls
from qshell.shell.streams import isatty


def read_spec(name: str) -> Spec:
    """The spec in file ``name``, read as isolationtester reads its input: the bytes as
    they are (no newline translation, no byte-order mark dropped); UsageError with the
    file's name and isolationtester's message (``syntax error at line N``) otherwise."""
    path = Path(name).expanduser()
    try:
        if path.is_dir():
            raise UsageError(f"{name}: is a directory")
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: {exc.strerror or exc}") from None
    try:
        return parse(data.decode("utf-8", "surrogateescape"))
    except SpecError as exc:
        raise UsageError(f"{name}: {exc}") from None


def printer(out: TextIO, err: TextIO) -> Callable[[Event], None]:
    """Write each event's text at once on ``out`` or ``err`` (as isolationtester, unbuffered);
    escaped on a terminal."""
    escape = {id(s): isatty(s) for s in (out, err)}

    def emit(ev: Event) -> None:
        stream, text = render(ev)
        target = out if stream == STDOUT else err
        if escape[id(target)]:
            target.write("\n".join(visible(line) for line in text.split("\n")))
        else:
            raw = getattr(target, "buffer", None)
            if raw is None:
                target.write(text)
            else:  # the bytes as they came, even those that are not UTF-8
                target.flush()
                raw.write(text.encode("utf-8", "surrogateescape"))
                raw.flush()
        target.flush()

    return emit


def run_spec(spec: Spec, conninfo: str, password: str | None, out: TextIO, err: TextIO) -> SpecRun:
    """Run ``spec`` on the server of ``conninfo``, printing as isolationtester does."""
    runner = IsolationRunner(spec, conninfo, printer(out, err), password=password)
    try:
        with sigint_calls(runner.interrupt):
            return runner.run()
    finally:
        runner.close()


class IsolationCommands:
    """``\\spec FILE.spec``: the spec's permutations on new connections to this session's server."""

    def __init__(self, shell: ShellHost) -> None:
        self.shell = shell
        self.last_run: SpecRun | None = None
        self.last_table: tuple[float, AnomalyTable] | None = None  # (when, the table) of the last ... under LEVELS

    def do_spec(self, cmd: Command) -> None:
        if not cmd.arg:
            raise UsageError("\\spec: needs a spec file (\\spec FILE.spec)")
        name, levels = split_under(cmd.arg, "spec")
        spec = read_spec(name)
        session = self.shell.session
        if levels is not None:  # the anomaly table
            table = run_table(spec, levels, session.dsn, session.pool._password, self.shell.out, json=self.shell.json, name=name,
                              err=self.shell.err)
            self.last_table = (time.time(), table)
            return
        self.last_run = run_spec(spec, session.dsn, session.pool._password, self.shell.out, self.shell.err)
        if self.last_run.status:
            self.shell.fail(f"\\spec {name}: the run stopped (isolationtester exits 1 there)")
