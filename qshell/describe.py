"""psql's describe commands, the few that matter when staging queries: \\d, \\dt, \\d NAME.

A mixin of ``Shell``; the catalog queries run on the side connection, outside any
transaction the user has open.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from .commands import Command
from .errors import UsageError
from .visible import visible

if TYPE_CHECKING:  # pragma: no cover
    from .shell import Shell

_KIND = ("CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'"
         " WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END")
_LIST = ("SELECT n.nspname, c.relname, " + _KIND + ", pg_get_userbyid(c.relowner)"
         " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
         " WHERE c.relkind = ANY(%s) AND n.nspname !~ '^pg_toast' AND {where} ORDER BY 1, 2")
# no pattern: what the search path shows, as psql; a pattern: any schema (or the one named)
_VISIBLE = "pg_table_is_visible(c.oid) AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
_MATCHING = "c.relname LIKE %s AND n.nspname LIKE %s"
_COLUMNS = ("SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
            " CASE WHEN a.attnotnull THEN 'not null' ELSE '' END, coalesce(pg_get_expr(d.adbin, d.adrelid), '')"
            " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")
_INDEXES = ("SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s::regclass ORDER BY 1")
_TITLE = ("SELECT n.nspname, c.relname, " + _KIND + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
          " WHERE c.oid = %s::regclass")


def like(pattern: str) -> str:
    """psql's pattern (``*`` any, ``?`` one char) as a LIKE pattern."""
    out = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return out.replace("*", "%").replace("?", "_")


class DescribeCommands:
    def _relations(self: "Shell", kinds: list[str], pattern: str | None, title: str) -> None:
        if pattern:
            schema, name = pattern.split(".", 1) if "." in pattern else ("*", pattern)
            rows = self.session.pool.rows(_LIST.format(where=_MATCHING), (kinds, like(name), like(schema)))
        else:
            rows = self.session.pool.rows(_LIST.format(where=_VISIBLE), (kinds,))
        if not rows and not self.json:
            self.write(f"Did not find any relation named \"{pattern}\"." if pattern else "Did not find any relations.")
            return
        self._emit(title, ["Schema", "Name", "Type", "Owner"], rows)

    def _emit(self: "Shell", title: str, headers: list[str], rows: list, extra: dict | None = None) -> None:
        """A titled listing: a table, or one JSON object in JSON mode."""
        if self.json:
            from .render import json_line

            self.write(json_line({"type": "describe", "title": title, "columns": headers,
                                  "rows": [list(r) for r in rows], **(extra or {})}))
            return
        table = tabulate(rows, headers=headers, tablefmt=self._describe_fmt(), disable_numparse=True)
        self.write(visible(f"{title}\n{table}\n({len(rows)} row{'s' if len(rows) != 1 else ''})"))

    def _describe_fmt(self: "Shell") -> str:
        return "psql" if self.settings.format in ("csv", "json") else self.settings.format

    def do_d(self: "Shell", cmd: Command) -> None:
        if not cmd.arg:
            self._relations(["r", "p", "v", "m", "S", "f"], None, "List of relations")
            return
        db = self.session.pool
        try:
            (nsp, rel, kind), = db.rows(_TITLE, (cmd.arg,))
        except Exception:  # noqa: BLE001 - unknown name: psql's wording
            if "*" in cmd.arg or "?" in cmd.arg:
                self._relations(["r", "p", "v", "m", "S", "f"], cmd.arg, "List of relations")
                return
            raise UsageError(f"Did not find any relation named \"{cmd.arg}\".") from None
        columns = db.rows(_COLUMNS, (cmd.arg,))
        title = f"{(kind or 'relation').capitalize()} \"{nsp}.{rel}\""
        indexes = db.rows(_INDEXES, (cmd.arg,))
        if self.json:
            self._emit(title, ["Column", "Type", "Nullable", "Default"], columns,
                       {"indexes": [{"name": n, "definition": d} for n, d in indexes]})
            return
        body = tabulate(columns, headers=["Column", "Type", "Nullable", "Default"], tablefmt=self._describe_fmt(),
                        disable_numparse=True)
        lines = [title, body]
        if indexes:
            lines.append("Indexes:")
            lines.extend(f"    \"{name}\" {definition.split(' USING ', 1)[-1] if ' USING ' in definition else definition}"
                         for name, definition in indexes)
        self.write(visible("\n".join(lines)))  # names are data: never raw control characters

    def do_l(self: "Shell", cmd: Command) -> None:
        rows = self.session.pool.rows(
            "SELECT d.datname, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate,"
            " pg_size_pretty(CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END)"
            " FROM pg_database d WHERE NOT d.datistemplate ORDER BY 1")
        self._emit("List of databases", ["Name", "Owner", "Encoding", "Collate", "Size"], rows)

    def do_dt(self: "Shell", cmd: Command) -> None:
        self._relations(["r", "p"], cmd.arg or None, "List of tables")
