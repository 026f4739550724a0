"""The shell's set commands: \\save, \\load, \\sets, and the sandbox dataset (\\sandbox init, \\demo).

A command group the ``Shell`` holds. A saved set is a plain .sql file (one statement per ``;``) in the
sets directory, so ``-f`` and ``\\addfile`` read it too.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from qshell.common.errors import UsageError
from qshell.script.commands import Command
from qshell.script.sqlsplit import split, strip_comments_head
from qshell.shell.host import ShellHost

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_SCALE = 10

# Six queries of clearly different cost over the pgbench tables: the seed's experiment.
DEMO = (
    "SELECT count(*) FROM pgbench_branches",
    "SELECT count(*) FROM pgbench_accounts",
    "SELECT bid, sum(abalance), avg(abalance) FROM pgbench_accounts GROUP BY bid",
    "SELECT count(DISTINCT (aid % 100000, abalance)) FROM pgbench_accounts",
    "SELECT aid, abalance FROM pgbench_accounts ORDER BY filler DESC, aid LIMIT 10",
    "SELECT t.tid, count(*) FROM pgbench_tellers t JOIN pgbench_accounts a ON a.bid = t.bid GROUP BY t.tid",
)


class SetCommands:
    """Saved sets and the sandbox's dataset, given the shell (its sets directory, staged
    set, session and streams)."""

    def __init__(self, shell: ShellHost) -> None:
        self.shell = shell

    def _set_path(self, name: str) -> Path:
        if not NAME.match(name):
            raise UsageError(f"bad set name {name!r}: use letters, digits, '_', '.', '-' (at most 64)")
        if self.shell.sets_dir is None:
            raise UsageError("no sets directory")
        return self.shell.sets_dir / f"{name.removesuffix('.sql')}.sql"

    def do_save(self, cmd: Command) -> None:
        if not self.shell.staged:
            raise UsageError("\\save: nothing staged")
        path = self._set_path(cmd.arg)
        header = f"-- qshell set {path.stem}: {len(self.shell.staged)} statements, saved {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        body = "".join(f"{sql};\n" for sql in self.shell.staged)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".sql.tmp")
            # 0600, as the history: a set may hold a password written in its SQL
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with open(fd, "w", encoding="utf-8") as fh:
                fh.write(header + body)
            tmp.replace(path)  # atomic: a crash never leaves half a set
        except OSError as exc:
            raise UsageError(f"\\save: {path}: {exc.strerror or exc}") from None
        self.shell.notice(f"saved {len(self.shell.staged)} statements to {path}")

    def do_load(self, cmd: Command) -> None:
        path = self._set_path(cmd.arg)
        if not path.exists():
            raise UsageError(f"\\load: no saved set {cmd.arg!r} in {self.shell.sets_dir} (see \\sets)")
        before = len(self.shell.staged)
        self.shell.stage_file(path, str(path))
        self.shell.notice(f"loaded set {path.stem}: {len(self.shell.staged) - before} statements ({len(self.shell.staged)} staged)")

    def do_sets(self, cmd: Command) -> None:
        files = sorted(self.shell.sets_dir.glob("*.sql")) if self.shell.sets_dir and self.shell.sets_dir.is_dir() else []
        if not files and not self.shell.json:
            self.shell.write(f"(no saved sets in {self.shell.sets_dir})")
            return
        for f in files:
            try:
                count = len([s for s in split(f.read_text(encoding="utf-8", errors="replace") + "\n;").statements
                             if strip_comments_head(s)])
            except OSError:
                count = 0
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.stat().st_mtime))
            if self.shell.json:
                from qshell.output.json_lines import json_line

                self.shell.write(json_line({"type": "set", "name": f.stem, "statements": count, "modified": stamp,
                                      "path": str(f)}))
            else:
                self.shell.write(f"{f.stem}  {count} statements  {stamp}")

    # -- the sandbox dataset ---------------------------------------------------------
    def do_sandbox(self, cmd: Command) -> None:
        if self.shell.session.sandbox is None:
            raise UsageError("\\sandbox init works only on the embedded sandbox (it drops and recreates the pgbench tables)")
        self.load_pgbench(cmd.n or DEFAULT_SCALE)

    def load_pgbench(self, scale: int) -> None:
        from qshell.session.sandbox import init_pgbench
        from qshell.shell.streams import isatty

        tty = isatty(self.shell.err)

        def progress(pct: int) -> None:
            if tty:
                filled = pct * 30 // 100
                self.shell.err.write(f"\r\x1b[Kloading pgbench tables, scale {scale} [{'#' * filled}{'.' * (30 - filled)}] {pct}%")
                self.shell.err.flush()

        t0 = time.perf_counter()
        try:
            init_pgbench(self.shell.session.dsn, scale, progress)
        finally:
            if tty:
                self.shell.err.write("\r\x1b[K")
                self.shell.err.flush()
        self.shell.notice(f"pgbench tables loaded at scale {scale} ({scale * 100000:,} accounts) in {time.perf_counter() - t0:.1f} s")

    def do_demo(self, cmd: Command) -> None:
        check = self.shell.session.user.execute("SELECT to_regclass('pgbench_accounts') IS NOT NULL AS present")
        if not check.rows or check.rows[0][0] != "t":
            raise UsageError("\\demo needs the pgbench tables: run \\sandbox init [SCALE] first (or pgbench -i on this database)")
        self.shell.staged.extend(DEMO)
        self.shell.notice(f"staged the 6 demo queries ({len(self.shell.staged)} staged); try \\sweep 1 2 3 5")
