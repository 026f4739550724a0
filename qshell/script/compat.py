"""What qshell does of every psql 18 meta-command and command-line option: the one table
the documentation's "psql compatibility" table is generated from (docs/hooks.py) and that
``tests/test_compat.py`` holds against psql's own ``--help`` and ``--help=commands``
(every command and option listed there has a row; a row says "same" only when qshell
has the command or option).

A row's ``status``: ``SAME`` (the same input gives psql's output; ``note`` may say what
is kept different on purpose, such as qshell's ``<null>``), ``DIFFERS`` (qshell has it,
``note`` says how it differs), ``NOT_POSSIBLE`` (``note`` says why), ``IN_PROGRESS``
(being added by another area of the work, ``note`` names the area). Pure: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

SAME = "same"
DIFFERS = "differs"
NOT_POSSIBLE = "not possible"
IN_PROGRESS = "in progress"
STATUSES = (SAME, DIFFERS, NOT_POSSIBLE, IN_PROGRESS)

@dataclass(frozen=True, slots=True)
class Compat:
    """One psql meta-command (``\\dt``, without its ``S+x`` suffixes) or option (``-A``)."""

    name: str
    status: str
    note: str = ""
    group: str = ""  # psql's heading in --help or --help=commands

    def text(self) -> str:
        """The status as the documentation's table shows it."""
        if self.status == SAME:
            return f"same; {self.note}" if self.note else "same"
        if self.status == IN_PROGRESS:
            return f"in progress ({self.note})"
        if self.status == NOT_POSSIBLE:
            return f"not possible: {self.note}"
        return self.note


def _rows(group: str, *rows: tuple[str, str, str] | tuple[str, str]) -> list[Compat]:
    out: list[Compat] = []
    for row in rows:
        names, status = row[0], row[1]
        note = row[2] if len(row) > 2 else ""
        out.extend(Compat(name, status, note, group) for name in names.split())
    return out


_CATALOG = "psql 18's catalog query, printed as psql prints it, through \\pset (guide: Catalog commands)"

COMMANDS: tuple[Compat, ...] = tuple(
    _rows("General",
          ("\\copyright", SAME),
          ("\\crosstabview", SAME, "pivoted on the client, printed in the current `\\pset` format"),
          ("\\errverbose", SAME, "psql's prefix line and layout are the sessions and settings area's"),
          ("\\g \\gx", SAME),
          ("\\gdesc", SAME, "the statement is only prepared, never run"),
          ("\\gexec \\gset", SAME),
          ("\\q", SAME),
          ("\\restrict \\unrestrict", SAME),
          ("\\watch", SAME, "each result printed as it comes (`PSQL_WATCH_PAGER` is not read); the intervals `inf` "
                              "and `nan` psql takes are refused"))
    + _rows("Help",
            ("\\?", DIFFERS, "lists qshell's commands (its own and psql's it has), grouped as qshell groups them; "
                             "psql's `\\? options` and `\\? variables` are `qshell --help` and `\\set`"),
            ("\\h", SAME, "the text is the wheel's psql's own, asked of it at run time (guide: Watching, prompts "
                           "and help)"))
    + _rows("Query Buffer",
            ("\\e", DIFFERS, "the statement being typed (or the last one) in $EDITOR, back at the prompt to run; "
                             "`\\e K` edits staged query K; at a terminal only"),
            ("\\ef \\ev", DIFFERS, "the definition in $EDITOR, the edited text back at the prompt (psql puts it in "
                                   "its query buffer); at a terminal only"),
            ("\\p \\r", SAME),
            ("\\w", SAME))
    + _rows("Input/Output",
            ("\\copy", SAME, "FILE, STDIN, STDOUT, PSTDIN, PSTDOUT, PROGRAM, with every COPY option (guide: Files "
                              "and I/O)"),
            ("\\echo \\qecho \\warn", SAME),
            ("\\i \\ir", SAME),
            ("\\o", SAME, "a file or `|command`; `\\echo`, messages and `Time:` stay on stdout, as psql"))
    + _rows("Conditional", ("\\if \\elif \\else \\endif", SAME))
    + _rows("Informational",
            ("\\d \\da \\dA \\dAc \\dAf \\dAo \\dAp \\db \\dc \\dconfig \\dC \\dd \\dD \\ddp \\dE \\des \\det \\deu "
             "\\dew \\df \\dfa \\dfn \\dfp \\dft \\dfw \\dF \\dFd \\dFp \\dFt \\dg \\di \\dl \\dL \\dm \\dn \\do "
             "\\dO \\dp \\dP \\dPi \\dPn \\dPt \\drds \\drg \\dRp \\dRs \\ds \\dt \\dT \\du \\dv \\dx \\dX \\dy \\l "
             "\\sf \\sv \\z", SAME, _CATALOG))
    + _rows("Large Objects",
            ("\\lo_export \\lo_import \\lo_list \\lo_unlink", SAME, "libpq's own calls on your session; they are "
                                                                "synchronous: Ctrl-C does not stop them, as in psql"))
    + _rows("Formatting",
            ("\\a \\C \\f \\H \\t \\T \\x", SAME),
            ("\\pset", SAME, "qshell shows NULL as `<null>` until `\\pset null` sets it (guide: Output control)"))
    + _rows("Connection",
            ("\\c", SAME),
            ("\\conninfo", SAME, "laid out as psql 18's by the sessions and settings area"),
            ("\\encoding", SAME, "qshell reads and writes UTF-8 whatever the client encoding (the server converts)"),
            ("\\password", DIFFERS, "as psql (libpq's PQchangePassword: a SCRAM verifier is sent, never the "
                                     "password); with no terminal qshell refuses, psql reads the answers from stdin"))
    + _rows("Operating System",
            ("\\cd \\getenv \\setenv \\!", SAME),
            ("\\timing", SAME))
    + _rows("Variables",
            ("\\prompt", SAME),
            ("\\set", DIFFERS, "psql's variables, and qshell's settings under their own names "
                               "(`\\set` alone lists both)"),
            ("\\unset", SAME))
    + _rows("Extended Query Protocol",
            ("\\bind \\bind_named \\close_prepared \\parse \\startpipeline \\sendpipeline \\syncpipeline "
             "\\endpipeline \\flush \\flushrequest \\getresults", SAME,
             "libpq's own calls on your session (the server logs the same Parse/Bind/Execute); a COPY through them "
             "is refused before it is sent"))
)

OPTIONS: tuple[Compat, ...] = tuple(
    _rows("General options",
          ("-c --command -f --file", SAME, "in command-line order, repeatable"),
          ("-d --dbname", SAME),
          ("-l --list", SAME),
          ("-v --set --variable", SAME, "also takes qshell's settings (`-v workers=4`)"),
          ("-V --version", DIFFERS, "prints qshell's version"),
          ("-X --no-psqlrc", SAME, "reads neither ~/.qshellrc nor psql's ~/.psqlrc (`--qshellrc-only`: qshell's "
                                   "alone)"),
          ("-1 --single-transaction", SAME, "BEGIN before the first -c/-f, COMMIT after the last (ROLLBACK after a "
                                            "failure under ON_ERROR_STOP); ignored without -c/-f, as psql"),
          ("-? --help", DIFFERS, "qshell's options; `--help=commands` qshell's meta-commands (as `\\?`); psql's "
                                 "`--help=variables` is `\\set` inside qshell (another topic: exit 1, as psql)"))
    + _rows("Input and output options",
            ("-a --echo-all -b --echo-errors -e --echo-queries", SAME),
            ("-E --echo-hidden", SAME, "sets ECHO_HIDDEN; the catalog queries are printed by the sessions and "
                                       "settings area's ECHO_HIDDEN"),
            ("-L --log-file", SAME, "each statement in psql's QUERY frame, its result as an aligned table or its "
                                    "tag, catalog tables too"),
            ("-n --no-readline", DIFFERS, "at a terminal, lines read without qshell's editor (prompt_toolkit: "
                                          "editing keys, completion, history), as psql without readline"),
            ("-o --output", SAME, "a file or `|command`, opened before connecting, as psql"),
            ("-q --quiet", SAME),
            ("-s --single-step", SAME, "psql's frame on stdout, the answer read from stdin as psql reads it"),
            ("-S --single-line", SAME, "also `\\set SINGLELINE on`"))
    + _rows("Output format options",
            ("-A --no-align --csv -F --field-separator -H --html -P --pset -R --record-separator -t --tuples-only "
             "-T --table-attr -x --expanded -z --field-separator-zero -0 --record-separator-zero", SAME,
             "applied in command-line order"))
    + _rows("Connection options",
            ("-h --host -p --port -U --username", SAME),
            ("-w --no-password", SAME, "without it, psql's \"Password for user NAME: \" when the server asks for one"),
            ("-W --password", DIFFERS, "read from the terminal; with no terminal psql reads it from stdin (which "
                                       "may be the script), qshell refuses: exit 2"))
)

BY_NAME: dict[str, Compat] = {row.name: row for row in (*COMMANDS, *OPTIONS)}


def markdown_table(rows: tuple[Compat, ...], head: str) -> str:
    """``rows`` as a Markdown table, one line per psql group, names that share a status together."""
    lines = [f"| {head} | status |", "|---|---|"]
    merged: list[tuple[list[str], Compat]] = []
    for row in rows:
        if merged and merged[-1][1].group == row.group and merged[-1][1].text() == row.text():
            merged[-1][0].append(row.name)
        else:
            merged.append(([row.name], row))
    for names, row in merged:
        shown = " ".join(f"`{n}`" for n in names)
        lines.append(f"| {shown} | {row.text().replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


def readme_summary() -> str:
    """The README's two lines: the psql commands and options qshell has as psql does, then
    those it has with a difference (each explained in the guide's table); none left out."""
    def names(status: tuple[str, ...]) -> list[str]:
        return [r.name for r in (*COMMANDS, *OPTIONS) if r.status in status]

    same, differs = names((SAME,)), names((DIFFERS, NOT_POSSIBLE, IN_PROGRESS))
    return (f"- **same as psql 18** ({len(same)}): " + " ".join(f"`{n}`" for n in same) + "\n"
            f"- **with a documented difference** ({len(differs)}): " + " ".join(f"`{n}`" for n in differs) + "\n")
