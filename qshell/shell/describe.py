"""psql's describe commands: \\d[+] [PATTERN], \\dt \\di \\dv \\dm \\ds \\df \\dn \\du \\dx \\l.

A command group the ``Shell`` holds. The catalog queries are psql 18's own (``describe.c``, as
``psql -E`` shows them), run on the user's session connection as psql runs them:
temp tables and ``SET search_path`` are seen, and a session inside a failed
transaction fails them as it fails psql's. Patterns follow psql's rules
(``fe_utils/string_utils.c``): unquoted letters fold to lower case, double quotes keep
case and make every character literal, ``*`` and ``?`` are wildcards, a dot separates
the schema, a name without a schema means what the search path shows.

pgspecial (dbcli) was evaluated and not used: it needs psycopg 3 (its ``psycopg.sql``
composition fails on a psycopg2 cursor), and its ``\\d NAME`` is psql 9's layout (a
``Modifiers`` column, ``Has OIDs``, no not-null constraints), its ``\\du`` raw flags.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

import psycopg2

from qshell.common.errors import QshellError, UsageError
from qshell.common.visible import visible
from qshell.script.commands import Command
from qshell.session.wire import pipeline_refusal
from qshell.shell.host import ShellHost
from qshell.shell.session_commands import echo_hidden, remember_error

if TYPE_CHECKING:  # pragma: no cover
    from qshell.output.styles import Style
    from qshell.records.results import QueryResult

# -- psql's name patterns ------------------------------------------------------------


def pattern_parts(pattern: str, force_escape: bool = False) -> list[str]:
    """psql's patternToSQLRegex: the dot-separated parts as (unanchored) regexes
    (``force_escape``: regex characters literal outside quotes too, as for operator names)."""
    parts, cur, inquotes, i = [], [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == '"':
            if inquotes and pattern[i + 1:i + 2] == '"':
                cur.append('"')
                i += 1
            else:
                inquotes = not inquotes
        elif not inquotes and "A" <= ch <= "Z":
            cur.append(ch.lower())
        elif not inquotes and ch == "*":
            cur.append(".*")
        elif not inquotes and ch == "?":
            cur.append(".")
        elif not inquotes and ch == ".":
            parts.append("".join(cur))
            cur = []
        elif ch == "$":
            cur.append("\\$")
        else:
            if (inquotes or force_escape) and ch in "|*+?()[]{}.^$\\":
                cur.append("\\")
            elif ch == "[" and pattern[i + 1:i + 2] == "]":
                cur.append("\\")
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


@dataclass
class Where:
    """WHERE conditions and their parameters, built as psql's processSQLNamePattern."""

    conds: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    def add(self, cond: str, *params) -> None:
        self.conds.append(cond)
        self.params.extend(params)

    def sql(self) -> str:
        return ("WHERE " + "\n  AND ".join(self.conds)) if self.conds else ""

    def pattern(self, pattern: str | None, schemavar: str | None, namevar: str, visibility: str | None,
                dbname: str = "", max_parts: int = 3) -> None:
        if pattern is None:
            if visibility:
                self.add(visibility)
            return
        parts = pattern_parts(pattern)
        if len(parts) > max_parts or (schemavar is None and len(parts) > 1 and max_parts == 3):
            raise UsageError(f"improper qualified name (too many dotted names): {pattern}")
        if len(parts) == 2 and schemavar is None and max_parts == 2:
            # \dn db.schema: psql refuses it, whatever the database's name
            raise UsageError(f"cross-database references are not implemented: {pattern}")
        if len(parts) == 3:
            if parts[0] != dbname.lower() and parts[0] != dbname:
                raise UsageError(f"cross-database references are not implemented: {pattern}")
            parts = parts[1:]
        name = parts[-1]
        if name != ".*":
            self.add(f"{namevar} OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default", f"^({name})$")
        if len(parts) == 2 and schemavar:
            if parts[0] != ".*":
                self.add(f"{schemavar} OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default", f"^({parts[0]})$")
        elif visibility:
            self.add(visibility)


# -- the queries ------------------------------------------------------------------------

_KIND = ("CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'"
         " WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table'"
         " WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END")
_TITLES = {"r": "Table", "v": "View", "m": "Materialized view", "i": "Index", "I": "Partitioned index",
           "S": "Sequence", "t": "TOAST table", "f": "Foreign table", "p": "Partitioned table", "c": "Composite type"}
_STORAGE = {"p": "plain", "m": "main", "x": "extended", "e": "external"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
# \d, \dt ...: relkinds, the listing's title, psql's "Did not find any ..." nouns
_LISTS = {
    "d": ("rpvmSf", "List of relations", "relation", "relations"),
    "dt": ("rp", "List of tables", "table", "tables"),
    "di": ("iI", "List of indexes", "index", "indexes"),
    "dv": ("v", "List of views", "view", "views"),
    "dm": ("m", "List of materialized views", "materialized view", "materialized views"),
    "ds": ("S", "List of sequences", "sequence", "sequences"),
    "dE": ("f", "List of foreign tables", "foreign table", "foreign tables"),
}


def _t(value) -> bool:
    return value in (True, "t", "true")


def _acl(column: str) -> str:
    return (f"CASE WHEN pg_catalog.array_length({column}, 1) = 0 THEN '(none)'"
            f" ELSE pg_catalog.array_to_string({column}, E'\\n') END")


def _continued(label: str, items: list[str]) -> list[str]:
    """psql's "Label: a,\\n       b" footer lines."""
    out = []
    for i, item in enumerate(items):
        line = f"{label}: {item}" if i == 0 else f"{' ' * len(label)}  {item}"
        out.append(line + ("," if i < len(items) - 1 else ""))
    return out


@dataclass
class Listing:
    """One titled table as psql prints it: title, headers, rows, footer lines."""

    title: str
    headers: list[str]
    rows: list[list]
    footers: list[str] = field(default_factory=list)
    numeric: frozenset = frozenset()  # indexes of right-aligned columns
    count: bool = True  # psql's "(N rows)" footer
    extra: dict = field(default_factory=dict)  # more JSON fields
    expandable: bool = True  # False: \\d NAME, which psql never prints expanded
    keeps_null: bool = True  # NULL shown as \\pset null sets it (False: empty, where psql's describe.c resets nullPrint)


_PSQL_FORMATS = ("aligned", "wrapped", "unaligned", "csv", "html", "asciidoc", "latex", "latex-longtable", "troff-ms")


def _printed(lst: Listing, rows: list[list], style: "Style", expand_once: bool, out: object) -> str:
    """``lst`` exactly as psql writes a catalog table under the current ``\\pset``
    (describe.c hands it to the printer of query results, its title set): a list with
    its ``(N rows)`` footer as a query result is printed; \\d NAME's footer lines
    (indexes, constraints…) instead, printed even with ``footer off``, never with tuples
    only, none in CSV. NULL shows as ``\\pset null`` sets it where psql keeps that
    (``keeps_null``), else empty; never as qshell's own ``<null>``.
    Everything psql writes, its last newline (or record separator) included: "" when it
    writes nothing (no rows in CSV or unaligned with tuples only)."""
    from dataclasses import replace

    from qshell.output import documents, result_tables, styles
    from qshell.output.psql_formats import Unaligned
    from qshell.records.results import Column, QueryResult, Status
    from qshell.shell.streams import isatty

    expanded = "off" if not lst.expandable else "on" if expand_once else style.expanded
    opts = replace(style.opts, title=lst.title)
    null = result_tables.machine_null(style) if lst.keeps_null else ""  # (qshell's own <null> never: psql's empty)
    style = styles.Style(fmt=style.fmt, null=null, maxwidth=0, expanded=expanded, width=style.width, opts=opts,
                         tty=style.tty)
    cols = tuple(Column(h, 23 if i in lst.numeric else 25) for i, h in enumerate(lst.headers))
    q = QueryResult(index=0, sql="", status=Status.OK, columns=cols, rows=tuple(tuple(r) for r in rows),
                    rowcount=len(rows), command=f"SELECT {len(rows)}")
    fmt, escape = style.fmt, isatty(out)
    if opts.numericlocale and fmt in ("unaligned", *documents.FORMATS):  # (table() groups the others' itself)
        q = replace(q, rows=tuple(result_tables.localized(q.rows, [i in lst.numeric for i in range(len(cols))])))
    listed = lst.count and not lst.footers  # psql's default footer, (N rows)
    footers = [] if opts.tuples_only else [f"({styles._rows_word(len(rows))})"] if listed else list(lst.footers)
    if fmt == "csv":  # (no footer of any kind in CSV)
        text = result_tables.table(q, style)
        return text + "\n" if text else ""
    if fmt == "unaligned":
        u = Unaligned(list(lst.headers), opts, null, expanded == "on", escape=escape)
        text = u.head() + u.body(q.rows)
        if listed:
            return text + u.tail(footers[0] if footers else None)
        if footers:  # (expanded: two separators before them, as psql's print_unaligned_vertical)
            lead = opts.record_sep * 2 if expanded == "on" else opts.record_sep if u.need_sep else ""
            text += lead + opts.record_sep.join(footers)
            u.need_sep = True
        return text + (opts.end if u.need_sep else "")
    if fmt in documents.FORMATS:
        if not listed:  # (custom footers are printed whatever \\pset footer says, as psql's)
            style = replace(style, opts=replace(opts, footer=True))
        return result_tables.document(q, style, (footers[0] if listed else tuple(footers)) if footers else None,
                                      escape=escape)
    text, vertical = _aligned(q, style)
    if listed:
        shown = bool(text) or result_tables.one_empty_line(q, style)
        return (text + "\n" if shown else "") + result_tables.after_table(q, style, shown=shown, expanded=vertical) + "\n"
    gap = [""] if vertical and footers and result_tables.border(style) < 2 else []  # (psql's, before a record's footers)
    return "\n".join([text, *gap, *(visible(f) for f in footers), "", ""])


def _aligned(q: "QueryResult", style: "Style") -> tuple[str, bool]:
    """``q`` drawn aligned or wrapped as a query result is (its title over it, expanded
    records under ``\\x``), without footer; and whether it was drawn expanded."""
    from dataclasses import replace

    from qshell.output import result_tables

    if style.fmt == "aligned" and not result_tables.drawn_by_borders(style):
        if style.opts.numericlocale:
            q = replace(q, rows=tuple(result_tables.localized(q.rows, [c.type_oid in result_tables.ALIGN_RIGHT
                                                                       for c in q.columns])))
        layout = result_tables.Layout(q.columns, style)
        layout.survey(q.rows)
        head, body = layout.head(), layout.body(q.rows)
        return (head + "\n" + body if head and body else head or body), layout.expanded
    text = result_tables.table(q, style)
    return text, style.expanded == "on" or text.startswith(("-[ RECORD", "* Record", "+-[ RECORD"))


class DescribeCommands:
    """psql's describe commands, given the shell (its session connection and streams)."""

    def __init__(self, shell: ShellHost) -> None:
        self.shell = shell
        self.expand_once = False  # the command being run asked for expanded display (its x suffix)

    # -- running and printing ----------------------------------------------------------
    def _catalog(self, sql: str, params=None) -> tuple[list[str], list[list], frozenset]:
        """Rows of a catalog query on the user's session (as psql): headers, rows, numeric columns."""
        user = self.shell.session.user
        if user.conn is None or user.conn.closed:
            user.reset()
        assert user.conn is not None  # reset() connected
        refused = pipeline_refusal(user)  # in psql's pipeline mode: libpq's refusal, as psql prints it
        if refused is not None:
            raise QshellError(refused)
        try:
            with user.conn.cursor() as cur:
                if params:
                    sql = cur.mogrify(sql, params).decode(psycopg2.extensions.encodings.get(user.conn.encoding, "utf-8"))
                echo_hidden(self.shell, sql)  # psql -E: what it sends, as it sends it
                cur.execute(sql)
                desc = cur.description or []
                rows = [list(r) for r in cur.fetchall()] if desc else []
        except psycopg2.Error as exc:
            remember_error(self.shell, exc)  # psql: \\errverbose shows a failed catalog query's error
            raise QshellError((exc.pgerror or str(exc)).rstrip("\n")) from None
        from qshell.records.results import NUMERIC_OIDS

        return [d.name for d in desc], rows, frozenset(i for i, d in enumerate(desc) if d.type_code in NUMERIC_OIDS)

    def _dbname(self) -> str:
        user = self.shell.session.user
        if user.conn is None or user.conn.closed:
            user.reset()
        assert user.conn is not None  # reset() connected
        return user.conn.info.dbname

    def _version(self) -> int:
        user = self.shell.session.user
        if user.conn is None or user.conn.closed:
            user.reset()
        assert user.conn is not None  # reset() connected
        return user.conn.server_version

    def _show(self, lst: Listing) -> None:
        rows = [["" if v is None else v for v in r] for r in lst.rows]
        if self.shell.json:
            from qshell.output.json_lines import json_line

            self.shell.write(json_line({"type": "describe", "title": lst.title, "columns": lst.headers, "rows": rows,
                                  **({"footers": lst.footers} if lst.footers else {}), **lst.extra}))
            return
        from qshell.output import result_tables, styles
        from qshell.records.results import Column

        style = self.shell.style()
        style_footer = style.opts.footer
        if style.fmt in _PSQL_FORMATS:
            text = _printed(lst, lst.rows, style, self.expand_once, self.shell.out)
            log = getattr(self.shell, "log", None)
            if log is not None:  # psql -L: catalog tables logged as its query results are, aligned
                from qshell.output.styles import Style

                log.write(_printed(lst, lst.rows, Style(fmt="aligned", null=style.null, maxwidth=0, expanded="off",
                                                        width=style.width, opts=style.opts, tty=False), False, log))
                log.flush()
            if text.endswith("\n"):
                self.shell.write(text[:-1])
            elif text:  # (a zero byte ends unaligned output with recordsep_zero: written as it is)
                emit = getattr(self.shell, "_emit", None)
                if emit is not None and getattr(self.shell, "_page", None) is None:
                    emit(text)
                else:
                    self.shell.write(text)
            return
        fmt = "psql" if style.fmt in ("csv", "json") else style.fmt
        expanded = "off" if not lst.expandable else "on" if self.expand_once else style.expanded
        style = styles.Style(fmt=fmt, null="", maxwidth=0, expanded=expanded, width=style.width)
        q = SimpleNamespace(columns=[Column(h, 23 if i in lst.numeric else 25) for i, h in enumerate(lst.headers)],
                            rows=rows, truncated=False, rowcount=len(rows))
        body = result_tables.table(q, style)  # type: ignore[arg-type]  # duck-typed: table reads only these four fields
        width = max((len(line) for line in body.splitlines()), default=0)
        title = visible(lst.title)
        if expanded == "on" and not rows:  # psql's expanded empty table: the count alone
            lines = ["(0 rows)"]
        elif body.startswith("-[ RECORD"):  # expanded: the title as is, a blank line before the footers
            lines = [title, body] + ([""] + [visible(f) for f in lst.footers] if lst.footers else [])
        else:
            lines = [" " * max(0, (width - len(title)) // 2) + title, body]
            lines.extend(visible(f) for f in lst.footers)
            if lst.count and not lst.footers and style_footer:  # psql's default footer: only when there is no other (\\pset footer)
                lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
        if fmt in ("aligned", "wrapped"):
            lines.append("")  # psql's blank line after each table it prints aligned
        self.shell.write("\n".join(lines))

    def _flags(self, cmd: Command) -> tuple[bool, bool]:
        mods = cmd.args[0] if cmd.args else ""
        self.expand_once = "x" in mods  # psql 18's \\dtx: this command's tables expanded
        return "+" in mods, "S" in mods

    def _pattern(self, cmd: Command) -> str | None:
        return cmd.arg if cmd.arg else None

    # -- lists of relations ---------------------------------------------------------------
    def _relations(self, which: str, cmd: Command) -> None:
        verbose, system = self._flags(cmd)
        pattern = self._pattern(cmd)
        mods = cmd.args[0] if cmd.args else ""
        letters = "".join(ch for ch in mods if ch in "tivmsE")  # \\dti: the lookup passed the letters on
        if len(letters) > 1:
            kinds = "".join(_LISTS["d" + ch][0] for ch in letters)
            title, many = "List of relations", "relations"
            which = "d" + letters
        else:
            kinds, title, _one, many = _LISTS[which]
        if (system or pattern is not None) and ("t" in which or which == "d"):
            kinds += "t"  # psql: TOAST tables listed with S or a pattern
        cols = ['n.nspname as "Schema"', 'c.relname as "Name"', f'{_KIND} as "Type"',
                'pg_catalog.pg_get_userbyid(c.relowner) as "Owner"']
        joins = ["LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
                 "LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam"]
        shows = which[1:] or "tvmsE"  # the letters: \\d alone lists all but indexes
        if "i" in shows:
            cols.append('c2.relname as "Table"')
            joins += ["LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid",
                      "LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid"]
        if verbose:
            cols.append("CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary'"
                        " WHEN 'u' THEN 'unlogged' END as \"Persistence\"")
            if any(ch in shows for ch in "tmi"):
                cols.append('am.amname as "Access method"')
            cols += ['pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size"',
                     "pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\""]
        w = Where()
        w.add("c.relkind = ANY(%s)", list(kinds))
        if not system and pattern is None:
            w.add("n.nspname <> 'pg_catalog'")
            w.add("n.nspname !~ '^pg_toast'")
            w.add("n.nspname <> 'information_schema'")
        w.pattern(pattern, "n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)",
                  self.shell.session.user.conn.info.dbname if self.shell.session.user.conn else "")
        sql = f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_class c\n" + "\n".join(joins) + f"\n{w.sql()}\nORDER BY 1,2"
        headers, rows, numeric = self._catalog(sql, w.params)
        if not rows and not self.shell.json and not self._quiet():
            if pattern:
                self.shell._where_notice(f'Did not find any {many} named "{pattern}".')
            else:
                self.shell._where_notice(f"Did not find any {many}.")
            return
        self._show(Listing(title, headers, rows, numeric=numeric))

    def do_dt(self, cmd: Command) -> None:
        self._relations("dt", cmd)

    def do_di(self, cmd: Command) -> None:
        self._relations("di", cmd)

    def do_dv(self, cmd: Command) -> None:
        self._relations("dv", cmd)

    def do_dm(self, cmd: Command) -> None:
        self._relations("dm", cmd)

    def do_ds(self, cmd: Command) -> None:
        self._relations("ds", cmd)

    def do_dE(self, cmd: Command) -> None:
        self._relations("dE", cmd)

    def _quiet(self) -> bool:
        """psql's QUIET: an empty listing is printed as an empty table, not "Did not find any ..."."""
        variables = getattr(self.shell, "variables", None)
        return bool(variables is not None and variables.is_on("QUIET"))

    # -- other lists ----------------------------------------------------------------------
    def do_dn(self, cmd: Command) -> None:
        verbose, system = self._flags(cmd)
        pattern = self._pattern(cmd)
        cols = ['n.nspname AS "Name"', 'pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"']
        if verbose:
            cols += [f'{_acl("n.nspacl")} AS "Access privileges"',
                     "pg_catalog.obj_description(n.oid, 'pg_namespace') AS \"Description\""]
        w = Where()
        if not system and pattern is None:
            w.add("n.nspname !~ '^pg_'")
            w.add("n.nspname <> 'information_schema'")
        w.pattern(pattern, None, "n.nspname", None, self._dbname(), max_parts=2)
        headers, rows, numeric = self._catalog(
            f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_namespace n\n{w.sql()}\nORDER BY 1", w.params)
        footers: list[str] = []
        if pattern is not None:  # psql: the publications of the schema named as written (the pattern's text)
            _, pubs, _ = self._catalog(
                "SELECT pubname FROM pg_catalog.pg_publication p"
                " JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid"
                " JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE n.nspname = %s ORDER BY 1", [pattern])
            if pubs:
                footers = ["Publications:"] + [f'    "{p[0]}"' for p in pubs]
        self._show(Listing("List of schemas", headers, rows, footers, numeric=numeric))

    def do_du(self, cmd: Command) -> None:
        verbose, system = self._flags(cmd)
        pattern = self._pattern(cmd)
        w = Where()
        if not system and pattern is None:
            w.add("r.rolname !~ '^pg_'")
        w.pattern(pattern, None, "r.rolname", None, max_parts=1)
        _, rows, _ = self._catalog(
            "SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,"
            " r.rolconnlimit, r.rolvaliduntil, r.rolreplication, r.rolbypassrls,"
            " pg_catalog.shobj_description(r.oid, 'pg_authid')"
            f" FROM pg_catalog.pg_roles r {w.sql()} ORDER BY 1", w.params)
        out = []
        for name, sup, inh, crole, cdb, login, limit, until, repl, bypass, desc in rows:
            attrs = [label for flag, label in ((_t(sup), "Superuser"), (not _t(inh), "No inheritance"),
                                               (_t(crole), "Create role"), (_t(cdb), "Create DB"),
                                               (not _t(login), "Cannot login"), (_t(repl), "Replication"),
                                               (_t(bypass), "Bypass RLS")) if flag]
            text = ", ".join(attrs)  # psql: the flags on one line, the limit and expiry each on its own
            n = int(limit)
            if n >= 0:
                text += ("\n" if text else "") + ("No connections" if n == 0
                                                  else f"{n} connection" + ("s" if n != 1 else ""))
            if until:
                text += ("\n" if text else "") + f"Password valid until {until}"
            out.append([name, text] + ([desc] if verbose else []))
        self._show(Listing("List of roles", ["Role name", "Attributes"] + (["Description"] if verbose else []),
                           out, count=False, keeps_null=False))

    def do_dx(self, cmd: Command) -> None:
        verbose, _ = self._flags(cmd)
        pattern = self._pattern(cmd)
        w = Where()
        w.pattern(pattern, None, "e.extname", None, max_parts=1)
        if not verbose:
            headers, rows, numeric = self._catalog(
                'SELECT e.extname AS "Name", e.extversion AS "Version", ae.default_version AS "Default version",'
                ' n.nspname AS "Schema", d.description AS "Description"'
                " FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
                " LEFT JOIN pg_catalog.pg_description d ON d.objoid = e.oid"
                " AND d.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass"
                " LEFT JOIN pg_catalog.pg_available_extensions() ae(name, default_version, comment)"
                f" ON ae.name = e.extname {w.sql()} ORDER BY 1", w.params)
            self._show(Listing("List of installed extensions", headers, rows, numeric=numeric))
            return
        _, exts, _ = self._catalog(f"SELECT e.extname, e.oid FROM pg_catalog.pg_extension e {w.sql()} ORDER BY 1",
                                   w.params)
        if not exts:
            if self._quiet():  # psql -q: the command fails without a word
                return
            raise UsageError(f'Did not find any extension named "{pattern}".' if pattern
                             else "Did not find any extensions.")
        for name, oid in exts:
            headers, rows, _ = self._catalog(
                'SELECT pg_catalog.pg_describe_object(classid, objid, 0) AS "Object description"'
                " FROM pg_catalog.pg_depend WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass"
                " AND refobjid = %s AND deptype = 'e' ORDER BY 1", [oid])
            self._show(Listing(f'Objects in extension "{name}"', headers, rows))

    def do_l(self, cmd: Command) -> None:
        verbose, _ = self._flags(cmd)
        pattern = self._pattern(cmd)
        v = self._version()
        cols = ['d.datname as "Name"', 'pg_catalog.pg_get_userbyid(d.datdba) as "Owner"',
                'pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding"']
        if v >= 150000:
            cols.append("CASE d.datlocprovider WHEN 'b' THEN 'builtin' WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu'"
                        ' END AS "Locale Provider"')
        cols += ['d.datcollate as "Collate"', 'd.datctype as "Ctype"']
        if v >= 170000:
            cols.append('d.datlocale as "Locale"')
        elif v >= 150000:
            cols.append('d.daticulocale as "Locale"')
        if v >= 160000:
            cols.append('d.daticurules as "ICU Rules"')
        cols.append(f'{_acl("d.datacl")} AS "Access privileges"')
        joins = ""
        if verbose:
            cols += ["CASE WHEN pg_catalog.has_database_privilege(d.datname, 'CONNECT')"
                     " OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')"
                     " THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.datname))"
                     " ELSE 'No Access' END as \"Size\"",
                     't.spcname as "Tablespace"',
                     "pg_catalog.shobj_description(d.oid, 'pg_database') as \"Description\""]
            joins = "JOIN pg_catalog.pg_tablespace t on d.dattablespace = t.oid"
        w = Where()
        w.pattern(pattern, None, "d.datname", None, max_parts=1)
        headers, rows, numeric = self._catalog(
            f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_database d {joins}\n{w.sql()}\nORDER BY 1", w.params)
        self._show(Listing("List of databases", headers, rows, numeric=numeric))

    # -- \d and \d NAME ---------------------------------------------------------------------
    def do_d(self, cmd: Command) -> None:
        pattern = self._pattern(cmd)
        if pattern is None:
            self._relations("d", cmd)
            return
        verbose, _ = self._flags(cmd)
        w = Where()
        w.pattern(pattern, "n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)",
                  self.shell.session.user.conn.info.dbname if self.shell.session.user.conn else "")
        _, found, _ = self._catalog(
            "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c"
            " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            f" {w.sql()} ORDER BY 2, 3", w.params)
        if not found:
            if self._quiet():  # psql -q: the command fails without a word
                return
            raise UsageError(f'Did not find any relation named "{pattern}".')
        for oid, nsp, rel in found:
            self._show(self._one(oid, nsp, rel, verbose))

    def _more_footers(self, oid: str, kind: str, hasrules: object, footers: list[str]) -> None:
        """psql's footers after the policies: statistics objects, rules, publications."""
        q = self._catalog
        _, stats, _ = q("SELECT oid, stxrelid::pg_catalog.regclass,"
                        " stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,"
                        " pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,"
                        " 'd' = any(stxkind) AS ndist_enabled, 'f' = any(stxkind) AS deps_enabled,"
                        " 'm' = any(stxkind) AS mcv_enabled, stxstattarget"
                        " FROM pg_catalog.pg_statistic_ext WHERE stxrelid = %s ORDER BY nsp, stxname", [oid])
        if stats:
            footers.append("Statistics objects:")
        for _soid, rel, snsp, name, columns, nd, deps, mcv, target in stats:
            kinds = [label for flag, label in ((nd, "ndistinct"), (deps, "dependencies"), (mcv, "mcv")) if _t(flag)]
            line = f'    "{snsp}.{name}"'
            if kinds and len(kinds) < 3:  # psql names the kinds unless all are on
                line += f" ({', '.join(kinds)})"
            line += f" ON {columns} FROM {rel}"
            if target is not None and str(target) != "-1":
                line += f"; STATISTICS {target}"
            footers.append(line)
        if _t(hasrules) and kind in "rpf":
            _, rules, _ = q("SELECT r.rulename, trim(trailing ';' from pg_catalog.pg_get_ruledef(r.oid, true)),"
                            " ev_enabled FROM pg_catalog.pg_rewrite r WHERE r.ev_class = %s ORDER BY 1", [oid])
            for label, enabled in (("Rules:", "O"), ("Disabled rules:", "D"), ("Rules firing always:", "A"),
                                   ("Rules firing on replica only:", "R")):
                chosen = [r for r in rules if r[2] == enabled]
                if chosen:
                    footers.append(label)
                for _name, rdef, _e in chosen:
                    text = rdef[len("CREATE RULE "):] if rdef.startswith("CREATE RULE ") else rdef
                    footers.append(f"    {text}")
        if kind in "rp":
            _, pubs, _ = q(
                "SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p"
                " JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid"
                " JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid"
                " WHERE pc.oid = %s and pg_catalog.pg_relation_is_publishable(%s)"
                " UNION SELECT pubname, pg_get_expr(pr.prqual, c.oid), (CASE WHEN pr.prattrs IS NOT NULL THEN"
                " (SELECT string_agg(attname, ', ') FROM pg_catalog.generate_series(0,"
                " pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s, pg_catalog.pg_attribute"
                " WHERE attrelid = pr.prrelid AND attnum = prattrs[s]) ELSE NULL END)"
                " FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid"
                " JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid WHERE pr.prrelid = %s"
                " UNION SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p"
                " WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable(%s) ORDER BY 1",
                [oid, oid, oid, oid])
            if pubs:
                footers.append("Publications:")
            for name, qual, cols in pubs:
                line = f'    "{name}"'
                if cols is not None:
                    line += f" ({cols})"
                if qual is not None:
                    line += f" WHERE {qual}"
                footers.append(line)

    def _one(self, oid: str, nsp: str, rel: str, verbose: bool) -> Listing:
        """psql's describeOneTableDetails."""
        v = self._version()
        q = self._catalog
        (info,) = q(
            "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity,"
            " c.relforcerowsecurity, c.relispartition,"
            " pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x"
            " from pg_catalog.unnest(tc.reloptions) x), ', '),"
            " c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END,"
            " c.relpersistence, c.relreplident, am.amname"
            " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)"
            " LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid) WHERE c.oid = %s", [oid])[1]
        (checks, kind, hasindex, hasrules, hastriggers, rowsec, forcerowsec, ispartition, options,
         tablespace, oftype, persistence, replident, amname) = info
        title = _TITLES.get(kind, "?")
        if persistence == "u":
            title = "Unlogged " + title[0].lower() + title[1:]
        title = f'{title} "{nsp}.{rel}"'
        footers: list[str] = []
        extra: dict = {}

        if kind == "S":
            headers, rows, numeric = q(
                'SELECT pg_catalog.format_type(seqtypid, NULL) AS "Type", seqstart AS "Start", seqmin AS "Minimum",'
                ' seqmax AS "Maximum", seqincrement AS "Increment",'
                " CASE WHEN seqcycle THEN 'yes' ELSE 'no' END AS \"Cycles?\", seqcache AS \"Cache\""
                " FROM pg_catalog.pg_sequence WHERE seqrelid = %s", [oid])
            _, owner, _ = q(
                "SELECT pg_catalog.quote_ident(nspname) || '.' || pg_catalog.quote_ident(relname) || '.' ||"
                " pg_catalog.quote_ident(attname), d.deptype FROM pg_catalog.pg_class c"
                " INNER JOIN pg_catalog.pg_depend d ON c.oid=d.refobjid"
                " INNER JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace"
                " INNER JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid AND a.attnum=d.refobjsubid)"
                " WHERE d.classid='pg_catalog.pg_class'::pg_catalog.regclass"
                " AND d.refclassid='pg_catalog.pg_class'::pg_catalog.regclass AND d.objid=%s"
                " AND d.deptype IN ('a', 'i')", [oid])
            for col, deptype in owner:
                footers.append(f"Owned by: {col}" if deptype == "a" else f"Sequence for identity column: {col}")
            return Listing(title, headers, rows, footers, numeric=numeric, count=False, expandable=False, keeps_null=False)

        is_index = kind in "iI"
        details = kind in "rvmfcp"
        cols = ["a.attname", "pg_catalog.format_type(a.atttypid, a.atttypmod)"]
        headers = ["Column", "Type"]
        if details:
            cols += ["(SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d"
                     " WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef)",
                     "a.attnotnull",
                     "(SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t"
                     " WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation)",
                     "a.attidentity", "a.attgenerated"]
            headers += ["Collation", "Nullable", "Default"]
        if kind == "f":
            cols.append("CASE WHEN attfdwoptions IS NULL THEN '' ELSE '(' || pg_catalog.array_to_string(ARRAY("
                        "SELECT pg_catalog.quote_ident(option_name) || ' ' || pg_catalog.quote_literal(option_value)"
                        " FROM pg_catalog.pg_options_to_table(attfdwoptions)), ', ') || ')' END")
            headers.append("FDW options")
        if is_index:
            cols += [f"CASE WHEN a.attnum <= (SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE i.indexrelid = {int(oid)})"
                     " THEN 'yes' ELSE 'no' END", "pg_catalog.pg_get_indexdef(a.attrelid, a.attnum, TRUE)"]
            headers += ["Key?", "Definition"]
        if verbose:
            cols.append("a.attstorage")
            headers.append("Storage")
            if kind in "rpm" and v >= 140000:
                cols.append("a.attcompression")
                headers.append("Compression")
            if kind in "riImfp":
                cols.append("CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END")
                headers.append("Stats target")
            if kind in "rvmfpc":
                cols.append("pg_catalog.col_description(a.attrelid, a.attnum)")
                headers.append("Description")
        _, attrs, _ = q(f"SELECT {', '.join(cols)} FROM pg_catalog.pg_attribute a"
                        " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [oid])
        rows = []
        for a in attrs:
            row = [a[0], a[1]]
            i = 2
            if details:
                default, notnull, coll, identity, generated = a[2:7]
                if identity == "a":
                    default = "generated always as identity"
                elif identity == "d":
                    default = "generated by default as identity"
                elif generated == "s":
                    default = f"generated always as ({default}) stored"
                elif generated == "v":
                    default = f"generated always as ({default})"
                row += [coll, "not null" if _t(notnull) else "", default]
                i = 7
            if kind == "f":
                row.append(a[i])
                i += 1
            if is_index:
                row += a[i:i + 2]
                i += 2
            if verbose:
                row.append(_STORAGE.get(a[i], ""))
                i += 1
                if kind in "rpm" and v >= 140000:
                    row.append(_COMPRESSION.get(a[i] or "", ""))
                    i += 1
                if kind in "riImfp":
                    row.append(a[i])
                    i += 1
                if kind in "rvmfpc":
                    row.append(a[i])
            rows.append(row)

        if _t(ispartition):  # any kind: a partition of a table, an index of a partitioned index
            _, part, _ = q(
                "SELECT inhparent::pg_catalog.regclass, pg_catalog.pg_get_expr(c.relpartbound, c.oid),"
                " inhdetachpending, pg_catalog.pg_get_partition_constraintdef(c.oid)"
                " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON c.oid = inhrelid"
                " WHERE c.oid = %s", [oid])
            if part:
                parent, bound, pending, constraint = part[0]
                footers.append(f"Partition of: {parent} {bound or ''}" + (" DETACH PENDING" if _t(pending) else ""))
                if verbose:
                    footers.append(f"Partition constraint: {constraint}" if constraint
                                   else "No partition constraint")
        if kind == "t":
            _, owning, _ = q("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n"
                             " WHERE reltoastrelid = %s AND c.relnamespace = n.oid", [oid])
            if owning:
                footers.append(f'Owning table: "{owning[0][0]}.{owning[0][1]}"')

        def tablespace_footer() -> None:
            if int(tablespace or 0) != 0:
                _, spc, _ = q("SELECT spcname FROM pg_catalog.pg_tablespace WHERE oid = %s", [tablespace])
                if spc:
                    footers.append(f'Tablespace: "{spc[0][0]}"')

        if is_index:
            (ix,) = q(
                "SELECT i.indisunique, i.indisprimary, i.indisclustered, i.indisvalid,"
                " (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid"
                " AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferrable),"
                " (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid"
                " AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferred),"
                " i.indisreplident, " + ("i.indnullsnotdistinct" if v >= 150000 else "false") + ","
                " a.amname, c2.relname, pg_catalog.pg_get_expr(i.indpred, i.indrelid, true)"
                " FROM pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_am a"
                " WHERE i.indexrelid = c.oid AND c.oid = %s AND c.relam = a.oid AND i.indrelid = c2.oid", [oid])[1]
            unique, primary, clustered, valid, deferrable, deferred, replident_i, nnd, am, table, pred = ix
            line = ""
            if _t(primary):
                line = "primary key, "
            elif _t(unique):
                line = "unique" + (" nulls not distinct" if _t(nnd) else "") + ", "
            line += f'{am}, for table "{nsp}.{table}"'
            if pred:
                line += f", predicate ({pred})"
            for flag, text in ((_t(clustered), ", clustered"), (not _t(valid), ", invalid"),
                               (_t(deferrable), ", deferrable"), (_t(deferred), ", initially deferred"),
                               (_t(replident_i), ", replica identity")):
                if flag:
                    line += text
            footers.append(line)
            tablespace_footer()
            if kind == "i":
                return Listing(title, headers, rows, footers, count=False, expandable=False, keeps_null=False)

        if kind in "rpmf":
            if kind == "p":
                _, key, _ = q("SELECT pg_catalog.pg_get_partkeydef(%s::pg_catalog.oid)", [oid])
                footers.append(f"Partition key: {key[0][0]}")
        if kind in "rpmft" and _t(hasindex):
            _, ixs, _ = q(
                "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid,"
                " pg_catalog.pg_get_indexdef(i.indexrelid, 0, true), pg_catalog.pg_get_constraintdef(con.oid, true),"
                " contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace"
                " FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i"
                " LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid"
                " AND contype IN ('p','u','x'))"
                " WHERE c.oid = %s AND c.oid = i.indrelid AND i.indexrelid = c2.oid"
                " ORDER BY i.indisprimary DESC, c2.relname", [oid])
            if ixs:
                footers.append("Indexes:")
                extra["indexes"] = []
            for name, prim, uniq, clus, valid, idef, cdef, ctype, cdefer, cdeferred, repl, ixspace in ixs:
                line = f'    "{name}"'
                if ctype == "x":
                    line += f" {cdef}"
                else:
                    if _t(prim):
                        line += " PRIMARY KEY,"
                    elif _t(uniq):
                        line += " UNIQUE CONSTRAINT," if ctype == "u" else " UNIQUE,"
                    line += " " + (idef.split(" USING ", 1)[1] if " USING " in idef else idef)
                    if _t(cdefer):
                        line += " DEFERRABLE"
                    if _t(cdeferred):
                        line += " INITIALLY DEFERRED"
                if _t(clus):
                    line += " CLUSTER"
                if not _t(valid):
                    line += " INVALID"
                if _t(repl):
                    line += " REPLICA IDENTITY"
                if int(ixspace or 0) != 0:
                    _, spc, _ = q("SELECT spcname FROM pg_catalog.pg_tablespace WHERE oid = %s", [ixspace])
                    if spc:
                        line += f', tablespace "{spc[0][0]}"'
                footers.append(line)
                extra["indexes"].append({"name": name, "definition": idef})
        if kind in "rpmf":
            if int(checks or 0) > 0:
                _, cks, _ = q("SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)"
                              " FROM pg_catalog.pg_constraint r WHERE r.conrelid = %s AND r.contype = 'c'"
                              " ORDER BY 1", [oid])
                if cks:
                    footers.append("Check constraints:")
                    footers.extend(f'    "{n}" {d}' for n, d in cks)
            if kind == "p" or _t(ispartition):
                fk_sql = ("SELECT conrelid = %s::pg_catalog.regclass AS sametable, conname,"
                          " pg_catalog.pg_get_constraintdef(oid, true) AS condef, conrelid::pg_catalog.regclass AS ontable"
                          " FROM pg_catalog.pg_constraint, pg_catalog.pg_partition_ancestors(%s)"
                          " WHERE conrelid = relid AND contype = 'f' AND conparentid = 0"
                          " ORDER BY sametable DESC, conname")
                _, fks, _ = q(fk_sql, [oid, oid])
            else:
                _, fks, _ = q("SELECT true as sametable, conname, pg_catalog.pg_get_constraintdef(r.oid, true),"
                              " conrelid::pg_catalog.regclass FROM pg_catalog.pg_constraint r"
                              " WHERE r.conrelid = %s AND r.contype = 'f' AND conparentid = 0 ORDER BY conname", [oid])
            if fks:
                footers.append("Foreign-key constraints:")
                footers.extend(f'    "{n}" {d}' if _t(same) else f'    TABLE "{t}" CONSTRAINT "{n}" {d}'
                               for same, n, d, t in fks)
            _, refs, _ = q("SELECT conname, conrelid::pg_catalog.regclass, pg_catalog.pg_get_constraintdef(oid, true)"
                           " FROM pg_catalog.pg_constraint c WHERE confrelid IN"
                           " (SELECT pg_catalog.pg_partition_ancestors(%s) UNION ALL VALUES (%s::pg_catalog.regclass))"
                           " AND contype = 'f' AND conparentid = 0 ORDER BY conname", [oid, oid])
            if refs:
                footers.append("Referenced by:")
                footers.extend(f'    TABLE "{t}" CONSTRAINT "{n}" {d}' for n, t, d in refs)
            if _t(rowsec) or _t(forcerowsec):
                _, pols, _ = q("SELECT pol.polname, pol.polpermissive, CASE WHEN pol.polroles = '{0}' THEN NULL ELSE"
                               " pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where"
                               " oid = any (pol.polroles) order by 1),',') END,"
                               " pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),"
                               " pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),"
                               " CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
                               " WHEN 'd' THEN 'DELETE' END FROM pg_catalog.pg_policy pol"
                               " WHERE pol.polrelid = %s ORDER BY 1", [oid])
                if _t(rowsec) and not _t(forcerowsec):
                    footers.append("Policies:" if pols else "Policies (row security enabled): (none)")
                elif _t(forcerowsec):
                    footers.append("Policies (forced row security enabled):" if pols
                                   else "Policies (forced row security enabled): (none)")
                for name, permissive, roles, qual, check, cmd in pols:
                    line = f'    POLICY "{name}"' + ("" if _t(permissive) else " AS RESTRICTIVE")
                    if cmd:
                        line += f" FOR {cmd}"
                    if roles:
                        line += f"\n      TO {roles}"
                    if qual:
                        line += f"\n      USING ({qual})"
                    if check:
                        line += f"\n      WITH CHECK ({check})"
                    footers.extend(line.split("\n"))
            self._more_footers(oid, kind, hasrules, footers)
            if verbose and v >= 180000:
                _, nns, _ = q("SELECT c.conname, a.attname, c.connoinherit, c.conislocal, c.coninhcount <> 0,"
                              " c.convalidated FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_attribute a ON"
                              " (a.attrelid = c.conrelid AND a.attnum = c.conkey[1])"
                              " WHERE c.contype = 'n' AND c.conrelid = %s::pg_catalog.regclass ORDER BY a.attnum", [oid])
                if nns:
                    footers.append("Not-null constraints:")
                for name, att, noinherit, islocal, inherited, validated in nns:
                    line = f'    "{name}" NOT NULL "{att}"'
                    if _t(noinherit):
                        line += " NO INHERIT"
                    if _t(islocal) and _t(inherited):
                        line += " (local, inherited)"
                    elif _t(inherited):
                        line += " (inherited)"
                    if not _t(validated):
                        line += " NOT VALID"
                    footers.append(line)
        if kind in "vm" and verbose:
            _, view, _ = q("SELECT pg_catalog.pg_get_viewdef(%s::pg_catalog.oid, true)", [oid])
            if view and view[0][0]:
                footers.append("View definition:")
                footers.extend(view[0][0].rstrip("\n").split("\n"))
        if kind == "v" and verbose and _t(hasrules):
            _, rules, _ = q("SELECT r.rulename, trim(trailing ';' from pg_catalog.pg_get_ruledef(r.oid, true))"
                            " FROM pg_catalog.pg_rewrite r WHERE r.ev_class = %s AND r.rulename != '_RETURN'"
                            " ORDER BY 1", [oid])
            if rules:
                footers.append("Rules:")
                for _name, rdef in rules:
                    text = rdef[len("CREATE RULE "):] if rdef.startswith("CREATE RULE ") else rdef
                    footers.extend(f" {text}".split("\n"))
        if _t(hastriggers):
            _, trigs, _ = q(
                "SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,"
                " CASE WHEN t.tgparentid != 0 THEN (SELECT u.tgrelid::pg_catalog.regclass"
                " FROM pg_catalog.pg_trigger AS u, pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY"
                " AS a(relid, depth) WHERE u.tgname = t.tgname AND u.tgrelid = a.relid AND u.tgparentid = 0"
                " ORDER BY a.depth LIMIT 1) END AS parent"
                " FROM pg_catalog.pg_trigger t WHERE t.tgrelid = %s"
                " AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D')) ORDER BY 1", [oid])
            groups = (("Triggers:", lambda e, i: e == "O" and not i),
                      ("Disabled user triggers:", lambda e, i: e == "D" and not i),
                      ("Disabled internal triggers:", lambda e, i: e == "D" and i),
                      ("Triggers firing always:", lambda e, i: e == "A"),
                      ("Triggers firing on replica only:", lambda e, i: e == "R"))
            for label, test in groups:
                chosen = [t for t in trigs if test(t[2], _t(t[3]))]
                if chosen:
                    footers.append(label)
                for _name, tdef, _e, _i, parent in chosen:
                    tdef = tdef.split(" TRIGGER ", 1)[1] if " TRIGGER " in tdef else tdef
                    footers.append(f"    {tdef}" + (f", ON TABLE {parent}" if parent else ""))
        if kind == "f":
            _, srv, _ = q("SELECT s.srvname, pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name)"
                          " || ' ' || pg_catalog.quote_literal(option_value) FROM"
                          " pg_catalog.pg_options_to_table(ftoptions)), ', ') FROM pg_catalog.pg_foreign_table f,"
                          " pg_catalog.pg_foreign_server s WHERE f.ftrelid = %s AND s.oid = f.ftserver", [oid])
            if srv:
                footers.append(f"Server: {srv[0][0]}")
                if srv[0][1]:
                    footers.append(f"FDW options: ({srv[0][1]})")
        if kind in "rpmfIt":
            _, parents, _ = q("SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i"
                              " WHERE c.oid = i.inhparent AND i.inhrelid = %s AND c.relkind != 'p'"
                              " AND c.relkind != 'I' ORDER BY inhseqno", [oid])
            footers.extend(_continued("Inherits", [p[0] for p in parents]))
            _, kids, _ = q("SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending,"
                           " pg_catalog.pg_get_expr(c.relpartbound, c.oid)"
                           " FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i"
                           " WHERE c.oid = i.inhrelid AND i.inhparent = %s"
                           " ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT',"
                           " c.oid::pg_catalog.regclass::pg_catalog.text", [oid])
            partitioned = kind in "pI"
            if partitioned and not kids:
                footers.append("Number of partitions: 0")
            elif not verbose:
                if kids:
                    noun = "partitions" if partitioned else "child tables"
                    footers.append(f"Number of {noun}: {len(kids)} (Use \\d+ to list them.)")
            else:
                items = []
                for name, ckind, pending, bound in kids:
                    item = str(name) + (f" {bound}" if bound is not None else "")
                    if ckind in "pI":
                        item += ", PARTITIONED"
                    elif ckind == "f":
                        item += ", FOREIGN"
                    if _t(pending):
                        item += " (DETACH PENDING)"
                    items.append(item)
                footers.extend(_continued("Partitions" if partitioned else "Child tables", items))
            if oftype:
                footers.append(f"Typed table of type: {oftype}")
            if verbose and kind in "rm" and replident not in ("d", "i") and nsp != "pg_catalog":
                footers.append("Replica Identity: " + {"f": "FULL", "n": "NOTHING"}.get(replident, "???"))
            tablespace_footer()
            if verbose and amname:
                footers.append(f"Access method: {amname}")
        if verbose and options and kind in "rpmfv":
            footers.append(f"Options: {options}")
        return Listing(title, headers, rows, footers, count=False, extra=extra, expandable=False, keeps_null=False)
