"""psql's ``PROMPT1`` / ``PROMPT2`` / ``PROMPT3`` and their ``%`` escapes (psql 18's
get_prompt in src/bin/psql/prompt.c, reimplemented; checked against psql in a terminal
in tests/test_interact.py).

qshell keeps its own prompt (``db[staged]=>``, a named session, ``@`` in an \\if branch
not taken) while ``PROMPT1`` and ``PROMPT2`` are psql's defaults; set to anything else,
they are what is shown, as in psql. A value that comes from the server or from data
(the database name, a variable, a command's output) is escaped (``visible``): only the
prompt's own text, and what ``%[ … %]`` or ``%NNN`` put there, reach the terminal as is.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Callable

from qshell.common.visible import visible
from qshell.common.visible import width as text_width

DEFAULT_SOCKET_DIR = "/tmp"  # libpq's DEFAULT_PGSOCKET_DIR as PostgreSQL builds it (psql: [local] there)
START_IGNORE, END_IGNORE = "\x01", "\x02"  # readline's markers; prompt_toolkit's ANSI() drops them


@dataclass
class Facts:
    """What the escapes show, taken from the session when the prompt is drawn."""

    connected: bool = True
    host: str = ""
    port: str = ""
    dbname: str = ""
    user: str = ""  # psql's session_username(): session_authorization, else the login user
    pid: int | None = None
    superuser: bool = False
    tx: str = ""  # '', '*', '!' ('?' when unknown)
    service: str = ""
    singleline: bool = False
    skipping: bool = False  # in a \\if branch not taken (psql's %R: @)
    pgdatabase: str | None = None  # the PGDATABASE environment variable (%~)
    variable: Callable[[str], str | None] = field(default=lambda name: None)


def _octal(template: str, i: int) -> tuple[str, int]:
    """``%`` followed by octal digits (strtol base 8 at a digit 0-7): the character, the index after."""
    j = i
    while j < len(template) and template[j] in "01234567":
        j += 1
    return chr(int(template[i:j], 8) % 256), j


def _command(text: str) -> str:
    """``%`cmd``` : the first line of the command's output, its newline dropped (psql: 256 bytes)."""
    try:
        out = subprocess.run(text, shell=True, capture_output=True, timeout=10, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    line = out.split(b"\n", 1)[0][:255]
    return line.decode("utf-8", "replace")


def continuation_mark(open_construct: str | None) -> str:
    """psql's ``%R`` on a continuation line: what the statement typed so far leaves open."""
    return {"quoted string": "'", "quoted identifier": '"', "dollar-quoted string": "$", "comment": "*",
            "parenthesis": "("}.get(open_construct or "", "-")


def render(template: str, facts: Facts, *, level: int = 1, mark: str = "", line: int = 1, last_width: int = 0) -> str:
    """The prompt ``template`` (PROMPT1, 2 or 3: ``level``) with its escapes replaced.
    ``mark``: ``%R`` for a continuation line; ``line``: ``%l``; ``last_width``: ``%w``
    (the width of the last PROMPT1). Invisible parts are between START_IGNORE and END_IGNORE."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        i += 1
        if ch != "%":
            out.append(ch)
            continue
        if i >= n:
            break  # a "%" at the very end: nothing, as psql
        esc = template[i]
        i += 1
        value: str | None = None
        if esc == "/":
            value = facts.dbname if facts.connected else ""
        elif esc == "~":
            if facts.connected:
                home = facts.dbname == facts.user or facts.pgdatabase == facts.dbname
                value = "~" if home else facts.dbname
        elif esc in "Mm":
            if facts.connected:
                host = facts.host
                if host and not host.startswith("/"):
                    value = host.split(".", 1)[0] if esc == "m" else host
                elif not host or host == DEFAULT_SOCKET_DIR or esc == "m":
                    value = "[local]"
                else:
                    value = f"[local:{host}]"
        elif esc == ">":
            value = facts.port if facts.connected else ""
        elif esc == "n":
            value = facts.user if facts.connected else ""
        elif esc == "s":
            value = facts.service
        elif esc == "p":
            value = str(facts.pid) if facts.connected and facts.pid is not None else ""
        elif esc == "P":
            value = "off" if facts.connected else ""  # qshell has no pipeline mode
        elif esc in "01234567":
            ch, i = _octal(template, i - 1)
            out.append(ch if ch != "\0" else "")
        elif esc == "R":
            if level == 1:
                out.append("!" if not facts.connected else "@" if facts.skipping else "^" if facts.singleline else "=")
            elif level == 2:
                out.append(mark or "-")
        elif esc == "x":
            out.append("?" if not facts.connected else facts.tx)
        elif esc == "l":
            out.append(str(line))
        elif esc == "w":
            out.append(" " * last_width)
        elif esc == "?":
            pass  # psql: not implemented
        elif esc == "#":
            out.append("#" if facts.superuser else ">")
        elif esc == "`":
            end = template.find("`", i)
            end = n if end == -1 else end
            value = _command(template[i:end])
            i = min(end + 1, n)
        elif esc == ":":
            end = template.find(":", i)
            end = n if end == -1 else end
            value = facts.variable(template[i:end]) or ""
            i = min(end + 1, n)
        elif esc == "[":
            out.append(START_IGNORE)
        elif esc == "]":
            out.append(END_IGNORE)
        else:
            out.append(esc)  # %% and any other character: itself
        if value is not None:
            out.append(visible(value))
    return "".join(out)


def shown_width(prompt: str) -> int:
    """The width the prompt takes on screen: its invisible parts left out (psql's %w)."""
    visible_parts: list[str] = []
    hidden = False
    for ch in prompt:
        if ch == START_IGNORE:
            hidden = True
        elif ch == END_IGNORE:
            hidden = False
        elif not hidden:
            visible_parts.append(ch)
    return text_width("".join(visible_parts).split("\n")[-1])


def facts_of(shell) -> Facts:  # noqa: ANN001 - shell.Shell
    """The session's facts for the prompt, without a round trip (libpq knows them all)."""
    import os

    session = shell.session
    user = session.user
    conn = user.conn if user.alive else None
    p = session.params
    v = shell.variables
    facts = Facts(connected=conn is not None, host=str(p.get("host") or ""), port=str(p.get("port") or ""),
                  dbname=str(p.get("dbname") or ""), user=str(p.get("user") or ""),
                  service=str(p.get("service") or os.environ.get("PGSERVICE") or ""),
                  singleline=v.is_on("SINGLELINE"), pgdatabase=os.environ.get("PGDATABASE"), variable=v.get)
    if conn is not None:
        facts.tx = user.transaction_state
        facts.superuser = conn.get_parameter_status("is_superuser") == "on"
        facts.user = conn.get_parameter_status("session_authorization") or facts.user
        try:
            facts.pid = conn.get_backend_pid()
        except Exception:  # noqa: BLE001 - a connection closing meanwhile: no pid shown
            facts.pid = None
    return facts


class Prompter:
    """psql's prompts for the shell: None while PROMPT1/PROMPT2 are psql's defaults (the
    shell's own prompt then). ``%w`` is the width of the PROMPT1 drawn for the input before
    (in PROMPT1) or for this one (in PROMPT2), as psql's: the terminal calls ``next_input``
    before each input, since a prompt is drawn again at every redraw."""

    def __init__(self, shell) -> None:  # noqa: ANN001 - shell.Shell
        self.shell = shell
        self.previous_width = 0  # the last input's PROMPT1
        self.current_width = 0  # this input's PROMPT1
        # the prompts drawn for this input: prompt_toolkit redraws at every key, psql draws a
        # prompt once (a %`command` runs once per prompt, as psql's)
        self._drawn: dict[tuple, str] = {}

    def next_input(self) -> None:
        self.previous_width = self.current_width
        self._drawn.clear()

    def shown(self, text: str) -> None:
        """The PROMPT1 drawn for this input (qshell's own included): %w's width."""
        self.current_width = shown_width(text)

    def statement_line(self, pending: str) -> int:
        """psql's ``%l``: 1, and one more for each line typed so far that ended with the
        statement open but in no quote, comment or parenthesis (psql counts no other)."""
        from qshell.script.sqlsplit import split

        lines = pending.split("\n")[:-1] if pending.endswith("\n") else pending.split("\n")
        number, so_far = 1, ""
        for line in lines:
            so_far = so_far + "\n" + line if so_far else line
            if not so_far.strip():
                continue
            parts = split(so_far, std_strings=self.shell.context.std_strings)
            if parts.open_construct is None and parts.rest.strip():
                number += 1
            elif parts.open_construct is None and not parts.rest.strip():
                number = 1  # a statement ended on this line: psql starts counting again
        return number

    def prompt(self, level: int, pending: str = "", skipping: bool = False) -> str | None:
        from qshell.script.sqlsplit import split
        from qshell.script.variables import PSQL_DEFAULTS

        name = f"PROMPT{level}"
        template = self.shell.variables.get(name)
        if template is None or level in (1, 2) and template == PSQL_DEFAULTS[name]:
            return None
        key = (level, pending, skipping, template)
        if key in self._drawn:
            return self._drawn[key]
        mark = ""
        if level == 2:
            mark = continuation_mark(split(pending, std_strings=self.shell.context.std_strings).open_construct)
        facts = facts_of(self.shell)
        facts.skipping = skipping
        width = self.previous_width if level == 1 else self.current_width
        line = self.statement_line(pending) if level == 2 else 1
        text = self._drawn[key] = render(template, facts, level=level, mark=mark, line=line, last_width=width)
        return text
