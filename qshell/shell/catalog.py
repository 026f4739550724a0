"""psql's other catalog commands: \\dT \\dD \\dp (\\z) \\ddp \\dconfig \\des \\dew \\det \\deu
\\dP[it] \\dX \\dRp \\dRs \\dy \\do \\dc \\dC \\dd \\dL \\dO \\dF \\dFd \\dFp \\dFt \\dA[cfop] \\db \\drds,
\\dg, \\sf and \\sv.

A command group the ``Shell`` holds, beside ``DescribeCommands`` (whose printing and
patterns it shares). Each query is the one psql 18 sends for the same command (``psql -E``
shows them; ``describe.c`` builds them): the same columns, conditions and order, so the
rows, their order and the table psql prints from them are the same. Values are taken as
the server's text (``t``/``f``, ``{a,b}``), as psql shows them.
"""
from __future__ import annotations

import psycopg2
import psycopg2.extensions

from qshell.common.errors import QshellError, UsageError
from qshell.script.commands import Command
from qshell.session.wire import pipeline_refusal
from qshell.shell.describe import DescribeCommands, Listing, pattern_parts
from qshell.shell.host import ShellHost
from qshell.shell.session_commands import echo_hidden, remember_error

_SYS = "n.nspname <> 'pg_catalog'\n      AND n.nspname <> 'information_schema'"


def _acl(column: str) -> str:
    return (f"CASE WHEN pg_catalog.array_length({column}, 1) = 0 THEN '(none)'"
            f" ELSE pg_catalog.array_to_string({column}, E'\\n') END")


def _options(column: str) -> str:
    return (f"CASE WHEN {column} IS NULL THEN '' ELSE '(' || pg_catalog.array_to_string(ARRAY(SELECT"
            " pg_catalog.quote_ident(option_name) || ' ' || pg_catalog.quote_literal(option_value) FROM"
            f" pg_catalog.pg_options_to_table({column})), ', ') || ')' END")


def _lit(text: str) -> str:
    """A string literal as psql writes one (standard_conforming_strings: quotes doubled;
    a backslash makes it an E'' literal with backslashes doubled)."""
    if "\\" in text:
        return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + text.replace("'", "''") + "'"


def _raw_caster() -> object:
    """Every type as the server's text: psql prints what the server sent (``t``, ``{a,b}``)."""
    return psycopg2.extensions.new_type(_NON_TEXT_OIDS, "QSHELL_RAW", lambda value, _cur: value)


# the types psycopg2 turns into Python values (bool, dates, arrays, json, ...): taken as text
_NON_TEXT_OIDS = (16, 114, 700, 701, 1082, 1083, 1114, 1184, 1186, 1266, 3802, 199, 1000, 1001, 1002, 1003, 1005,
                  1006, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1034, 1040, 1041, 1115, 1182, 1183, 1185,
                  1187, 1231, 1263, 1270, 2951, 3807, 2201, 1561, 1563, 651, 1017, 1018, 1019, 1020, 1027, 2211,
                  3643, 3644, 3645)


def name_pattern(pattern: str | None, schemavar: str | None, namevar: str | None, altvar: str | None,
                 visibility: str | None, dbname: str, max_parts: int = 3, force_escape: bool = False) -> list[str]:
    """psql's processSQLNamePattern: the WHERE conditions for one pattern (schema.name,
    * and ?, double quotes); without a pattern, the visibility rule alone. ``max_parts``
    0: dots belong to the name (\\dconfig, \\ddp); 2 without a schema: psql refuses any
    qualified name as a cross-database reference (\\dn, \\dL)."""
    if pattern is None:
        return [visibility] if visibility else []
    parts = pattern_parts(pattern, force_escape)
    if max_parts == 0:
        parts = [".".join(parts)]
    if len(parts) > max(max_parts, 1):
        raise UsageError(f"improper qualified name (too many dotted names): {pattern}")
    if len(parts) == 3:
        if parts[0] != dbname:
            raise UsageError(f"cross-database references are not implemented: {pattern}")
        parts = parts[1:]
    if len(parts) == 2 and schemavar is None:
        if max_parts == 2:
            raise UsageError(f"cross-database references are not implemented: {pattern}")
        raise UsageError(f"improper qualified name (too many dotted names): {pattern}")
    conds = []
    name = parts[-1]
    regex = _lit(f"^({name})$")
    if namevar and name != ".*":
        if altvar:
            conds.append(f"({namevar} OPERATOR(pg_catalog.~) {regex} COLLATE pg_catalog.default\n"
                         f"        OR {altvar} OPERATOR(pg_catalog.~) {regex} COLLATE pg_catalog.default)")
        else:
            conds.append(f"{namevar} OPERATOR(pg_catalog.~) {regex} COLLATE pg_catalog.default")
    if len(parts) == 2 and schemavar:
        if parts[0] != ".*":
            conds.append(f"{schemavar} OPERATOR(pg_catalog.~) {_lit(f'^({parts[0]})$')} COLLATE pg_catalog.default")
    elif visibility:
        conds.append(visibility)
    return conds


# psql's map_typename_pattern: names the grammar takes that neither pg_type nor format_type shows
_TYPE_NAMES = {"decimal": "numeric", "float": "double precision", "int": "integer", "bool[]": "boolean[]",
               "decimal[]": "numeric[]", "float[]": "double precision[]", "float4[]": "real[]",
               "float8[]": "double precision[]", "int[]": "integer[]", "int2[]": "smallint[]", "int4[]": "integer[]",
               "int8[]": "bigint[]", "time[]": "time without time zone[]", "timetz[]": "time with time zone[]",
               "timestamp[]": "timestamp without time zone[]", "timestamptz[]": "timestamp with time zone[]",
               "varbit[]": "bit varying[]", "varchar[]": "character varying[]"}


def type_pattern(pattern: str | None) -> str | None:
    """A type pattern as psql reads it: ``int`` means integer, ``float8[]`` double precision[]."""
    return _TYPE_NAMES.get(pattern.lower(), pattern) if pattern is not None else None


def _where(conds: list[str], keyword: str = "WHERE") -> str:
    conds = [c for c in conds if c]
    return f"{keyword} " + "\n  AND ".join(conds) + "\n" if conds else ""


class CatalogCommands:
    """psql's catalog listings beyond relations, functions, schemas, roles, extensions and
    databases (``DescribeCommands``), given the shell (its session connection and streams)."""

    def __init__(self, shell: ShellHost, describe: DescribeCommands | None = None) -> None:
        self.shell = shell
        self.describe = describe or DescribeCommands(shell)

    # -- running ----------------------------------------------------------------------
    def _conn(self):  # noqa: ANN202  (a psycopg2 connection)
        user = self.shell.session.user
        if user.conn is None or user.conn.closed:
            user.reset()
        assert user.conn is not None  # reset() connected
        return user.conn

    def _dbname(self) -> str:
        return self._conn().info.dbname

    def query(self, sql: str) -> tuple[list[str], list[list], frozenset]:
        """Rows of a catalog query on the user's session, every value as the server's text."""
        from qshell.records.results import NUMERIC_OIDS

        refused = pipeline_refusal(self.shell.session.user)  # in psql's pipeline mode: libpq's refusal
        if refused is not None:
            raise QshellError(refused)
        try:
            with self._conn().cursor() as cur:
                psycopg2.extensions.register_type(_raw_caster(), cur)
                echo_hidden(self.shell, sql)  # psql -E: what it sends
                cur.execute(sql)
                desc = cur.description or []
                rows = [list(r) for r in cur.fetchall()] if desc else []
        except psycopg2.Error as exc:
            remember_error(self.shell, exc)  # psql: \\errverbose shows a failed catalog query's error
            # psql reports a failed catalog query by its first line (no LINE/caret: the user did not type it)
            raise QshellError((exc.pgerror or str(exc)).strip("\n").split("\n")[0]) from None
        return [d.name for d in desc], rows, frozenset(i for i, d in enumerate(desc) if d.type_code in NUMERIC_OIDS)

    def _quiet(self) -> bool:
        variables = getattr(self.shell, "variables", None)
        return bool(variables is not None and variables.is_on("QUIET"))

    def show(self, title: str, sql: str, empty: str | None = None) -> None:
        """Run ``sql`` and print its rows under ``title`` as psql does (``empty``: psql's
        "Did not find any ..." message, said instead of an empty table unless QUIET)."""
        headers, rows, numeric = self.query(sql)
        if not rows and empty and not self._quiet() and not self.shell.json:
            self.shell._where_notice(empty)
            return
        self.describe._show(Listing(title, headers, rows, numeric=numeric))

    def _mods(self, cmd: Command) -> str:
        mods = cmd.args[0] if cmd.args else ""
        self.describe.expand_once = "x" in mods  # psql 18's \\dTx: this command's tables expanded
        return mods

    @staticmethod
    def _pats(cmd: Command) -> list[str | None]:
        """The command's patterns (the first one alone for one-pattern commands)."""
        if len(cmd.args) > 1:
            return list(cmd.args[1:])
        return [cmd.arg if cmd.arg else None]

    def _one(self, cmd: Command) -> tuple[bool, bool, str | None]:
        mods = self._mods(cmd)
        return "+" in mods, "S" in mods, self._pats(cmd)[0]

    def _np(self, pattern: str | None, schemavar: str | None, namevar: str | None, altvar: str | None = None,
            visibility: str | None = None, max_parts: int = 3, force_escape: bool = False) -> list[str]:
        return name_pattern(pattern, schemavar, namevar, altvar, visibility, self._dbname(), max_parts, force_escape)

    # -- types, domains, privileges ----------------------------------------------------------
    def do_dT(self, cmd: Command) -> None:
        verbose, system, pattern = self._one(cmd)
        pattern = type_pattern(pattern)
        cols = ['n.nspname as "Schema"', 'pg_catalog.format_type(t.oid, NULL) AS "Name"']
        if verbose:
            cols += ['t.typname AS "Internal name"',
                     "CASE WHEN t.typrelid != 0 THEN CAST('tuple' AS pg_catalog.text) WHEN t.typlen < 0"
                     " THEN CAST('var' AS pg_catalog.text) ELSE CAST(t.typlen AS pg_catalog.text) END AS \"Size\"",
                     "pg_catalog.array_to_string(ARRAY(SELECT e.enumlabel FROM pg_catalog.pg_enum e"
                     " WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), E'\\n') AS \"Elements\"",
                     'pg_catalog.pg_get_userbyid(t.typowner) AS "Owner"', f'{_acl("t.typacl")} AS "Access privileges"']
        cols.append("pg_catalog.obj_description(t.oid, 'pg_type') as \"Description\"")
        conds = ["(t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))"]
        if pattern is None or "[]" not in pattern:  # psql: array types only when the pattern names one
            conds.append("NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem"
                         " AND el.typarray = t.oid)")
        if not system and pattern is None:
            conds.append(_SYS)
        conds += self._np(pattern, "n.nspname", "t.typname", "pg_catalog.format_type(t.oid, NULL)",
                          "pg_catalog.pg_type_is_visible(t.oid)")
        self.show("List of data types", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_type t\n"
                  "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n" + _where(conds)
                  + "ORDER BY 1, 2;")

    def do_dD(self, cmd: Command) -> None:
        verbose, system, pattern = self._one(cmd)
        cols = ['n.nspname as "Schema"', 't.typname as "Name"',
                'pg_catalog.format_type(t.typbasetype, t.typtypmod) as "Type"',
                "(SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type bt WHERE c.oid = t.typcollation"
                " AND bt.oid = t.typbasetype AND t.typcollation <> bt.typcollation) as \"Collation\"",
                "CASE WHEN t.typnotnull THEN 'not null' END as \"Nullable\"", 't.typdefault as "Default"',
                "pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.pg_get_constraintdef(r.oid, true)"
                " FROM pg_catalog.pg_constraint r WHERE t.oid = r.contypid AND r.contype = 'c' ORDER BY r.conname),"
                " ' ') as \"Check\""]
        joins = "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n"
        if verbose:
            cols += [f'{_acl("t.typacl")} AS "Access privileges"', 'd.description as "Description"']
            joins += ("     LEFT JOIN pg_catalog.pg_description d ON d.classoid = t.tableoid AND d.objoid = t.oid"
                      " AND d.objsubid = 0\n")
        conds = ["t.typtype = 'd'"]
        if not system and pattern is None:
            conds.append(_SYS)
        conds += self._np(pattern, "n.nspname", "t.typname", None, "pg_catalog.pg_type_is_visible(t.oid)")
        self.show("List of domains", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_type t\n{joins}"
                  + _where(conds) + "ORDER BY 1, 2;")

    def do_dp(self, cmd: Command) -> None:
        _verbose, system, pattern = self._one(cmd)
        policies = (
            "pg_catalog.array_to_string(ARRAY(SELECT polname"
            " || CASE WHEN NOT polpermissive THEN E' (RESTRICTIVE)' ELSE '' END"
            " || CASE WHEN polcmd != '*' THEN E' (' || polcmd::pg_catalog.text || E'):' ELSE E':' END"
            " || CASE WHEN polqual IS NOT NULL THEN E'\\n  (u): ' || pg_catalog.pg_get_expr(polqual, polrelid) ELSE E'' END"
            " || CASE WHEN polwithcheck IS NOT NULL THEN E'\\n  (c): ' || pg_catalog.pg_get_expr(polwithcheck, polrelid)"
            " ELSE E'' END"
            " || CASE WHEN polroles <> '{0}' THEN E'\\n  to: ' || pg_catalog.array_to_string(ARRAY(SELECT rolname"
            " FROM pg_catalog.pg_roles WHERE oid = ANY (polroles) ORDER BY 1), E', ') ELSE E'' END"
            " FROM pg_catalog.pg_policy pol WHERE polrelid = c.oid), E'\\n') AS \"Policies\"")
        cols = ['n.nspname as "Schema"', 'c.relname as "Name"',
                "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'"
                " WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' END"
                ' as "Type"', f'{_acl("c.relacl")} AS "Access privileges"',
                "pg_catalog.array_to_string(ARRAY(SELECT attname || E':\\n  ' || pg_catalog.array_to_string(attacl,"
                " E'\\n  ') FROM pg_catalog.pg_attribute a WHERE attrelid = c.oid AND NOT attisdropped AND attacl"
                " IS NOT NULL), E'\\n') AS \"Column privileges\"", policies]
        conds = ["c.relkind IN ('r','v','m','S','f','p')"]
        if not system and pattern is None:
            conds.append(_SYS)
        conds += self._np(pattern, "n.nspname", "c.relname", None, "pg_catalog.pg_table_is_visible(c.oid)")
        self.show("Access privileges", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_class c\n"
                  "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n" + _where(conds)
                  + "ORDER BY 1, 2;")

    do_z = do_dp

    def do_ddp(self, cmd: Command) -> None:
        _verbose, _system, pattern = self._one(cmd)
        conds = self._np(pattern, None, "n.nspname", "pg_catalog.pg_get_userbyid(d.defaclrole)", None, 0)
        self.show("Default access privileges",
                  'SELECT pg_catalog.pg_get_userbyid(d.defaclrole) AS "Owner", n.nspname AS "Schema",'
                  " CASE d.defaclobjtype WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'function'"
                  " WHEN 'T' THEN 'type' WHEN 'n' THEN 'schema' WHEN 'L' THEN 'large object' END AS \"Type\", "
                  f'{_acl("d.defaclacl")} AS "Access privileges"\nFROM pg_catalog.pg_default_acl d\n'
                  "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace\n" + _where(conds)
                  + "ORDER BY 1, 2, 3;")

    def do_dg(self, cmd: Command) -> None:
        self.describe.do_du(cmd)

    def do_dconfig(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = 's.name AS "Parameter", pg_catalog.current_setting(s.name) AS "Value"'
        joins = ""
        if verbose:
            cols += f', s.vartype AS "Type", s.context AS "Context", {_acl("p.paracl")} AS "Access privileges"'
            joins = "  LEFT JOIN pg_catalog.pg_parameter_acl p\n  ON pg_catalog.lower(s.name) = p.parname\n"
        if pattern is None:
            conds = ["s.source <> 'default' AND\n      s.setting IS DISTINCT FROM s.boot_val"]
        else:
            conds = self._np(pattern, None, "pg_catalog.lower(s.name)", None, None, 0)
        title = "List of non-default configuration parameters" if pattern is None else "List of configuration parameters"
        self.show(title, f"SELECT {cols}\nFROM pg_catalog.pg_settings s\n{joins}" + _where(conds) + "ORDER BY 1;")

    # -- foreign data -------------------------------------------------------------------------
    def do_des(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['s.srvname AS "Name"', 'pg_catalog.pg_get_userbyid(s.srvowner) AS "Owner"',
                'f.fdwname AS "Foreign-data wrapper"']
        joins = "     JOIN pg_catalog.pg_foreign_data_wrapper f ON f.oid=s.srvfdw\n"
        if verbose:
            cols += [f'{_acl("s.srvacl")} AS "Access privileges"', 's.srvtype AS "Type"',
                     's.srvversion AS "Version"', f'{_options("srvoptions")} AS "FDW options"',
                     'd.description AS "Description"']
            joins += ("LEFT JOIN pg_catalog.pg_description d\n       ON d.classoid = s.tableoid AND d.objoid = s.oid"
                      " AND d.objsubid = 0\n")
        conds = self._np(pattern, None, "s.srvname", None, None, 1)
        self.show("List of foreign servers", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_foreign_server s\n"
                  f"{joins}" + _where(conds) + "ORDER BY 1;")

    def do_dew(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['fdw.fdwname AS "Name"', 'pg_catalog.pg_get_userbyid(fdw.fdwowner) AS "Owner"',
                'fdw.fdwhandler::pg_catalog.regproc AS "Handler"', 'fdw.fdwvalidator::pg_catalog.regproc AS "Validator"']
        joins = ""
        if verbose:
            cols += [f'{_acl("fdwacl")} AS "Access privileges"', f'{_options("fdwoptions")} AS "FDW options"',
                     'd.description AS "Description"']
            joins = ("LEFT JOIN pg_catalog.pg_description d\n       ON d.classoid = fdw.tableoid AND d.objoid = fdw.oid"
                     " AND d.objsubid = 0\n")
        conds = self._np(pattern, None, "fdwname", None, None, 1)
        self.show("List of foreign-data wrappers", f"SELECT {', '.join(cols)}\n"
                  f"FROM pg_catalog.pg_foreign_data_wrapper fdw\n{joins}" + _where(conds) + "ORDER BY 1;")

    def do_det(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['n.nspname AS "Schema"', 'c.relname AS "Table"', 's.srvname AS "Server"']
        joins = ("  INNER JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid\n"
                 "  INNER JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
                 "  INNER JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver\n")
        if verbose:
            cols += [f'{_options("ftoptions")} AS "FDW options"', 'd.description AS "Description"']
            joins += ("   LEFT JOIN pg_catalog.pg_description d\n          ON d.classoid = c.tableoid AND"
                      " d.objoid = c.oid AND d.objsubid = 0\n")
        conds = self._np(pattern, "n.nspname", "c.relname", None, "pg_catalog.pg_table_is_visible(c.oid)")
        self.show("List of foreign tables", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_foreign_table ft\n"
                  f"{joins}" + _where(conds) + "ORDER BY 1, 2;")

    def do_deu(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['um.srvname AS "Server"', 'um.usename AS "User name"']
        if verbose:
            cols.append(f'{_options("umoptions")} AS "FDW options"')
        conds = self._np(pattern, None, "um.srvname", "um.usename", None, 1)
        self.show("List of user mappings", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_user_mappings um\n"
                  + _where(conds) + "ORDER BY 1, 2;")

    # -- partitioned relations, statistics, replication, event triggers ---------------------
    def _partitioned(self, cmd: Command, tables: bool, indexes: bool) -> None:
        mods = self._mods(cmd)
        verbose, system, pattern = "+" in mods, "S" in mods, self._pats(cmd)[0]
        nested = "n" in mods or pattern is not None
        if tables and indexes:
            title, kinds = "List of partitioned relations", "'p','I'"
        elif tables:
            title, kinds = "List of partitioned tables", "'p'"
        else:
            title, kinds = "List of partitioned indexes", "'I'"
        cols = ['n.nspname as "Schema"', 'c.relname as "Name"', 'pg_catalog.pg_get_userbyid(c.relowner) as "Owner"']
        if tables and indexes:
            cols.append("CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END"
                        ' as "Type"')
        if nested:
            cols.append('inh.inhparent::pg_catalog.regclass as "Parent name"')
        if indexes:
            cols.append('c2.oid::pg_catalog.regclass as "Table"')
        joins = "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
        if indexes:
            joins += ("     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid\n"
                      "     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid\n")
        if nested:
            joins += "     LEFT JOIN pg_catalog.pg_inherits inh ON c.oid = inh.inhrelid\n"
        if verbose:
            cols += ['am.amname as "Access method"']
            if nested:
                cols += ['s.dps as "Leaf partition size"', 's.tps as "Total size"']
            else:
                cols += ['s.tps as "Total size"']
            cols.append("pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\"")
            joins += ("     LEFT JOIN pg_catalog.pg_am am ON c.relam = am.oid,\n"
                      "     LATERAL (SELECT pg_catalog.pg_size_pretty(sum(CASE WHEN ppt.isleaf AND ppt.level = 1"
                      " THEN pg_catalog.pg_table_size(ppt.relid) ELSE 0 END)) AS dps,"
                      " pg_catalog.pg_size_pretty(sum(pg_catalog.pg_table_size(ppt.relid))) AS tps"
                      " FROM pg_catalog.pg_partition_tree(c.oid) ppt) s\n")
        conds = [f"c.relkind IN ({kinds},'')"]
        if not nested:
            conds.append("NOT c.relispartition")
        if not system and pattern is None:
            conds.append("n.nspname <> 'pg_catalog'\n      AND n.nspname !~ '^pg_toast'\n"
                         "      AND n.nspname <> 'information_schema'")
        conds += self._np(pattern, "n.nspname", "c.relname", None, "pg_catalog.pg_table_is_visible(c.oid)")
        order = ['"Schema"']
        if tables and indexes:
            order.append('"Type" DESC')
        if nested:
            order.append('"Parent name" NULLS FIRST')
        order.append('"Name"')
        self.show(title, f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_class c\n{joins}" + _where(conds)
                  + f"ORDER BY {', '.join(order)};")

    def do_dP(self, cmd: Command) -> None:
        self._partitioned(cmd, True, True)

    def do_dPt(self, cmd: Command) -> None:
        self._partitioned(cmd, True, False)

    def do_dPi(self, cmd: Command) -> None:
        self._partitioned(cmd, False, True)

    def do_dPn(self, cmd: Command) -> None:
        self._partitioned(Command(cmd.name, cmd.arg, args=(self._mods(cmd) + "n", *cmd.args[1:])), True, True)

    def do_dX(self, cmd: Command) -> None:
        _verbose, _system, pattern = self._one(cmd)
        conds = self._np(pattern, "es.stxnamespace::pg_catalog.regnamespace::pg_catalog.text", "es.stxname", None,
                         "pg_catalog.pg_statistics_obj_is_visible(es.oid)")
        self.show("List of extended statistics",
                  'SELECT es.stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS "Schema",'
                  ' es.stxname AS "Name", pg_catalog.format(\'%s FROM %s\','
                  " pg_catalog.pg_get_statisticsobjdef_columns(es.oid), es.stxrelid::pg_catalog.regclass)"
                  ' AS "Definition",'
                  " CASE WHEN 'd' = any(es.stxkind) THEN 'defined' END AS \"Ndistinct\","
                  " CASE WHEN 'f' = any(es.stxkind) THEN 'defined' END AS \"Dependencies\","
                  " CASE WHEN 'm' = any(es.stxkind) THEN 'defined' END AS \"MCV\"\n"
                  "FROM pg_catalog.pg_statistic_ext es\n" + _where(conds) + "ORDER BY 1, 2;")

    def do_dRp(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        conds = self._np(pattern, None, "pubname", None, None, 1)
        if verbose:
            self._publications(conds, pattern)
            return
        self.show("List of publications",
                  'SELECT pubname AS "Name", pg_catalog.pg_get_userbyid(pubowner) AS "Owner",'
                  ' puballtables AS "All tables", pubinsert AS "Inserts", pubupdate AS "Updates",'
                  ' pubdelete AS "Deletes", pubtruncate AS "Truncates",'
                  " (CASE pubgencols WHEN 'n' THEN 'none' WHEN 's' THEN 'stored' END) AS \"Generated columns\","
                  ' pubviaroot AS "Via root"\nFROM pg_catalog.pg_publication\n' + _where(conds) + "ORDER BY 1;")

    def _publications(self, conds: list[str], pattern: str | None) -> None:
        """\\dRp+: one table per publication, its tables (and row filters, column lists) and schemas below."""
        _h, pubs, _n = self.query(
            "SELECT oid, pubname, pg_catalog.pg_get_userbyid(pubowner) AS owner, puballtables, pubinsert,"
            " pubupdate, pubdelete, pubtruncate, (CASE pubgencols WHEN 'n' THEN 'none' WHEN 's' THEN 'stored' END)"
            ' AS "Generated columns", pubviaroot\nFROM pg_catalog.pg_publication\n' + _where(conds) + "ORDER BY 2;")
        if not pubs:
            if not self._quiet():
                self.shell._where_notice(f'Did not find any publication named "{pattern}".' if pattern
                                  else "Did not find any publications.")
            return
        headers = ["Owner", "All tables", "Inserts", "Updates", "Deletes", "Truncates", "Generated columns",
                   "Via root"]
        for oid, name, owner, alltables, ins, upd, dele, trunc, gencols, viaroot in pubs:
            footers: list[str] = []
            if alltables != "t":
                _h, tabs, _n = self.query(
                    "SELECT n.nspname, c.relname, pg_catalog.pg_get_expr(pr.prqual, c.oid), (CASE WHEN pr.prattrs"
                    " IS NOT NULL THEN (SELECT string_agg(attname, ', ') FROM pg_catalog.generate_series(0,"
                    " pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s, pg_catalog.pg_attribute"
                    " WHERE attrelid = pr.prrelid AND attnum = prattrs[s]) ELSE NULL END) "
                    "FROM pg_catalog.pg_class c,\n     pg_catalog.pg_namespace n,\n"
                    "     pg_catalog.pg_publication_rel pr\nWHERE c.relnamespace = n.oid\n"
                    f"  AND c.oid = pr.prrelid\n  AND pr.prpubid = '{oid}'\nORDER BY 1,2")
                if tabs:
                    footers.append("Tables:")
                for nsp, rel, qual, attrs in tabs:
                    line = f'    "{nsp}.{rel}"'
                    if attrs:
                        line += f" ({attrs})"
                    if qual:
                        line += f" WHERE {qual}"
                    footers.append(line)
                _h, nsps, _n = self.query(
                    "SELECT n.nspname\nFROM pg_catalog.pg_namespace n\n     JOIN pg_catalog.pg_publication_namespace"
                    f" pn ON n.oid = pn.pnnspid\nWHERE pn.pnpubid = '{oid}'\nORDER BY 1")
                if nsps:
                    footers.append("Tables from schemas:")
                footers.extend(f'    "{r[0]}"' for r in nsps)
            self.describe._show(Listing(f"Publication {name}", headers,
                                        [[owner, alltables, ins, upd, dele, trunc, gencols, viaroot]], footers))

    def do_dRs(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['subname AS "Name"', 'pg_catalog.pg_get_userbyid(subowner) AS "Owner"', 'subenabled AS "Enabled"',
                'subpublications AS "Publication"']
        if verbose:
            cols += ['subbinary AS "Binary"',
                     "(CASE substream WHEN 'f' THEN 'off' WHEN 't' THEN 'on' WHEN 'p' THEN 'parallel' END)"
                     ' AS "Streaming"', 'subtwophasestate AS "Two-phase commit"',
                     'subdisableonerr AS "Disable on error"', 'suborigin AS "Origin"',
                     'subpasswordrequired AS "Password required"', 'subrunasowner AS "Run as owner?"',
                     'subfailover AS "Failover"', 'subsynccommit AS "Synchronous commit"',
                     'subconninfo AS "Conninfo"', 'subskiplsn AS "Skip LSN"']
        conds = ["subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())"]
        conds += self._np(pattern, None, "subname", None, None, 1)
        self.show("List of subscriptions", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_subscription\n"
                  + _where(conds) + "ORDER BY 1;")

    def do_dy(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ('evtname as "Name", evtevent as "Event", pg_catalog.pg_get_userbyid(e.evtowner) as "Owner",'
                " case evtenabled when 'O' then 'enabled' when 'R' then 'replica' when 'A' then 'always'"
                " when 'D' then 'disabled' end as \"Enabled\", e.evtfoid::pg_catalog.regproc as \"Function\","
                " pg_catalog.array_to_string(array(select x from pg_catalog.unnest(evttags) as t(x)), ', ') as \"Tags\"")
        if verbose:
            cols += ", pg_catalog.obj_description(e.oid, 'pg_event_trigger') as \"Description\""
        conds = self._np(pattern, None, "evtname", None, None, 1)
        self.show("List of event triggers", f"SELECT {cols}\nFROM pg_catalog.pg_event_trigger e " + _where(conds)
                  + "ORDER BY 1")

    # -- operators, conversions, casts, comments -----------------------------------------------
    def do_do(self, cmd: Command) -> None:
        verbose, system, pattern = self._one(cmd)
        cols = ['n.nspname as "Schema"', 'o.oprname AS "Name"',
                "CASE WHEN o.oprkind='l' THEN NULL ELSE pg_catalog.format_type(o.oprleft, NULL) END"
                ' AS "Left arg type"',
                "CASE WHEN o.oprkind='r' THEN NULL ELSE pg_catalog.format_type(o.oprright, NULL) END"
                ' AS "Right arg type"', 'pg_catalog.format_type(o.oprresult, NULL) AS "Result type"']
        joins = "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace\n"
        if verbose:
            cols += ['o.oprcode AS "Function"', "CASE WHEN p.proleakproof THEN 'yes' ELSE 'no' END AS \"Leakproof?\""]
            joins += "     LEFT JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode\n"
        cols.append("coalesce(pg_catalog.obj_description(o.oid, 'pg_operator'),"
                    " pg_catalog.obj_description(o.oprcode, 'pg_proc')) AS \"Description\"")
        conds = []
        if not system and pattern is None:
            conds.append(_SYS)
        conds += self._np(pattern, "n.nspname", "o.oprname", None, "pg_catalog.pg_operator_is_visible(o.oid)",
                          force_escape=True)
        types = self._pats(cmd)[1:3]
        if len(types) == 1:  # one type: the right argument of a prefix operator
            types = [None, types[0]]
        for i, typ in enumerate(types):
            if typ is None:
                continue
            side = "oprleft" if i == 0 else "oprright"
            t = f"t{i}"
            joins += (f"     LEFT JOIN pg_catalog.pg_type {t} ON {t}.oid = o.{side}\n"
                      f"     LEFT JOIN pg_catalog.pg_namespace n{t} ON n{t}.oid = {t}.typnamespace\n")
            if typ == "-":
                conds.append(f"o.{side} = 0")
            else:
                conds += self._np(type_pattern(typ), f"n{t}.nspname", f"{t}.typname",
                                  f"pg_catalog.format_type({t}.oid, NULL)",
                                  f"pg_catalog.pg_type_is_visible({t}.oid)")
        self.show("List of operators", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_operator o\n{joins}"
                  + _where(conds) + "ORDER BY 1, 2, 3, 4;")

    def do_dc(self, cmd: Command) -> None:
        verbose, system, pattern = self._one(cmd)
        cols = ['n.nspname AS "Schema"', 'c.conname AS "Name"',
                'pg_catalog.pg_encoding_to_char(c.conforencoding) AS "Source"',
                'pg_catalog.pg_encoding_to_char(c.contoencoding) AS "Destination"',
                "CASE WHEN c.condefault THEN 'yes' ELSE 'no' END AS \"Default?\""]
        joins = "     JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace\n"
        if verbose:
            cols.append('d.description AS "Description"')
            joins += ("LEFT JOIN pg_catalog.pg_description d ON d.classoid = c.tableoid\n"
                      "          AND d.objoid = c.oid AND d.objsubid = 0\n")
        conds = ["true"]
        if not system and pattern is None:
            conds.append("n.nspname <> 'pg_catalog'\n  AND n.nspname <> 'information_schema'")
        conds += self._np(pattern, "n.nspname", "c.conname", None, "pg_catalog.pg_conversion_is_visible(c.oid)")
        self.show("List of conversions", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_conversion c\n{joins}"
                  + _where(conds) + "ORDER BY 1, 2;")

    def do_dC(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['pg_catalog.format_type(castsource, NULL) AS "Source type"',
                'pg_catalog.format_type(casttarget, NULL) AS "Target type"',
                "CASE WHEN c.castmethod = 'b' THEN '(binary coercible)' WHEN c.castmethod = 'i' THEN '(with inout)'"
                ' ELSE p.proname END AS "Function"',
                "CASE WHEN c.castcontext = 'e' THEN 'no' WHEN c.castcontext = 'a' THEN 'in assignment' ELSE 'yes'"
                ' END AS "Implicit?"']
        joins = ("FROM pg_catalog.pg_cast c LEFT JOIN pg_catalog.pg_proc p\n     ON c.castfunc = p.oid\n"
                 "     LEFT JOIN pg_catalog.pg_type ts\n     ON c.castsource = ts.oid\n"
                 "     LEFT JOIN pg_catalog.pg_namespace ns\n     ON ns.oid = ts.typnamespace\n"
                 "     LEFT JOIN pg_catalog.pg_type tt\n     ON c.casttarget = tt.oid\n"
                 "     LEFT JOIN pg_catalog.pg_namespace nt\n     ON nt.oid = tt.typnamespace\n")
        if verbose:
            cols += ["CASE WHEN p.proleakproof THEN 'yes' ELSE 'no' END AS \"Leakproof?\"",
                     'd.description AS "Description"']
            joins += ("     LEFT JOIN pg_catalog.pg_description d\n     ON d.classoid = c.tableoid AND"
                      " d.objoid = c.oid AND d.objsubid = 0\n")
        sides = []
        for t in ("ts", "tt"):
            conds = ["true"] + self._np(pattern, f"n{t[1]}.nspname", f"{t}.typname",
                                        f"pg_catalog.format_type({t}.oid, NULL)",
                                        f"pg_catalog.pg_type_is_visible({t}.oid)")
            sides.append("(" + " AND ".join(conds) + "\n)")
        self.show("List of casts", f"SELECT {', '.join(cols)}\n{joins}WHERE ( " + " OR ".join(sides)
                  + " )\nORDER BY 1, 2;")

    def do_dd(self, cmd: Command) -> None:
        _verbose, system, pattern = self._one(cmd)
        hide = not system and pattern is None

        def branch(select: str, from_: str, schema: str, name: str, vis: str, where: str = "") -> str:
            conds = [where] if where else []
            if hide:
                conds.append(_SYS)
            conds += self._np(pattern, schema, name, None, vis)
            return f"  {select}\n  {from_}\n" + _where(conds)

        parts = [
            branch("SELECT pgc.oid as oid, pgc.tableoid AS tableoid, n.nspname as nspname,"
                   " CAST(pgc.conname AS pg_catalog.text) as name, CAST('table constraint' AS pg_catalog.text) as object",
                   "FROM pg_catalog.pg_constraint pgc JOIN pg_catalog.pg_class c ON c.oid = pgc.conrelid"
                   " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
                   "n.nspname", "pgc.conname", "pg_catalog.pg_table_is_visible(c.oid)"),
            branch("SELECT pgc.oid as oid, pgc.tableoid AS tableoid, n.nspname as nspname,"
                   " CAST(pgc.conname AS pg_catalog.text) as name, CAST('domain constraint' AS pg_catalog.text) as"
                   " object", "FROM pg_catalog.pg_constraint pgc JOIN pg_catalog.pg_type t ON t.oid = pgc.contypid"
                   " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace",
                   "n.nspname", "pgc.conname", "pg_catalog.pg_type_is_visible(t.oid)"),
            branch("SELECT o.oid as oid, o.tableoid as tableoid, n.nspname as nspname,"
                   " CAST(o.opcname AS pg_catalog.text) as name, CAST('operator class' AS pg_catalog.text) as object",
                   "FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_am am ON o.opcmethod = am.oid"
                   " JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace",
                   "n.nspname", "o.opcname", "pg_catalog.pg_opclass_is_visible(o.oid)"),
            branch("SELECT opf.oid as oid, opf.tableoid as tableoid, n.nspname as nspname,"
                   " CAST(opf.opfname AS pg_catalog.text) AS name, CAST('operator family' AS pg_catalog.text) as"
                   " object", "FROM pg_catalog.pg_opfamily opf JOIN pg_catalog.pg_am am ON opf.opfmethod = am.oid"
                   " JOIN pg_catalog.pg_namespace n ON opf.opfnamespace = n.oid",
                   "n.nspname", "opf.opfname", "pg_catalog.pg_opfamily_is_visible(opf.oid)"),
            branch("SELECT r.oid as oid, r.tableoid as tableoid, n.nspname as nspname,"
                   " CAST(r.rulename AS pg_catalog.text) as name, CAST('rule' AS pg_catalog.text) as object",
                   "FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class"
                   " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
                   "n.nspname", "r.rulename", "pg_catalog.pg_table_is_visible(c.oid)", "r.rulename != '_RETURN'"),
            branch("SELECT t.oid as oid, t.tableoid as tableoid, n.nspname as nspname,"
                   " CAST(t.tgname AS pg_catalog.text) as name, CAST('trigger' AS pg_catalog.text) as object",
                   "FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
                   " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
                   "n.nspname", "t.tgname", "pg_catalog.pg_table_is_visible(c.oid)"),
        ]
        self.show("Object descriptions",
                  'SELECT DISTINCT tt.nspname AS "Schema", tt.name AS "Name", tt.object AS "Object",'
                  ' d.description AS "Description"\nFROM (\n' + "UNION ALL\n".join(parts)
                  + ") AS tt\n  JOIN pg_catalog.pg_description d ON (tt.oid = d.objoid AND tt.tableoid = d.classoid"
                  " AND d.objsubid = 0)\nORDER BY 1, 2, 3;")

    # -- languages, collations, text search ---------------------------------------------------
    def do_dL(self, cmd: Command) -> None:
        verbose, system, pattern = self._one(cmd)
        cols = ['l.lanname AS "Name"', 'pg_catalog.pg_get_userbyid(l.lanowner) as "Owner"',
                'l.lanpltrusted AS "Trusted"']
        if verbose:
            cols += ['NOT l.lanispl AS "Internal language"', 'l.lanplcallfoid::pg_catalog.regprocedure AS "Call handler"',
                     'l.lanvalidator::pg_catalog.regprocedure AS "Validator"',
                     'l.laninline::pg_catalog.regprocedure AS "Inline handler"',
                     f'{_acl("l.lanacl")} AS "Access privileges"']
        cols.append('d.description AS "Description"')
        conds = self._np(pattern, None, "l.lanname", None, None, 2)
        if not system and pattern is None:
            conds.append("l.lanplcallfoid != 0")
        self.show("List of languages", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_language l\n"
                  "LEFT JOIN pg_catalog.pg_description d\n  ON d.classoid = l.tableoid AND d.objoid = l.oid\n"
                  "  AND d.objsubid = 0\n" + _where(conds) + "ORDER BY 1;")

    def do_dO(self, cmd: Command) -> None:
        verbose, system, pattern = self._one(cmd)
        cols = ['n.nspname AS "Schema"', 'c.collname AS "Name"',
                "CASE c.collprovider WHEN 'd' THEN 'default' WHEN 'b' THEN 'builtin' WHEN 'c' THEN 'libc'"
                " WHEN 'i' THEN 'icu' END AS \"Provider\"", 'c.collcollate AS "Collate"', 'c.collctype AS "Ctype"',
                'c.colllocale AS "Locale"', 'c.collicurules AS "ICU Rules"',
                "CASE WHEN c.collisdeterministic THEN 'yes' ELSE 'no' END AS \"Deterministic?\""]
        if verbose:
            cols.append("pg_catalog.obj_description(c.oid, 'pg_collation') AS \"Description\"")
        conds = ["n.oid = c.collnamespace"]
        if not system and pattern is None:
            conds.append(_SYS)
        conds.append("c.collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding()))")
        conds += self._np(pattern, "n.nspname", "c.collname", None, "pg_catalog.pg_collation_is_visible(c.oid)")
        self.show("List of collations", f"SELECT {', '.join(cols)}\n"
                  "FROM pg_catalog.pg_collation c, pg_catalog.pg_namespace n\n" + _where(conds) + "ORDER BY 1, 2;")

    def _ts_list(self, cmd: Command, title: str, table: str, alias: str, name: str, nsp: str, vis: str,
                 cols: list[str], verbose_cols: list[str], descr: str) -> None:
        verbose, _system, pattern = self._one(cmd)
        allcols = ['n.nspname as "Schema"', f'{alias}.{name} as "Name"'] + (verbose_cols if verbose else cols)
        allcols.append(f"pg_catalog.obj_description({alias}.oid, '{descr}') as \"Description\"")
        conds = self._np(pattern, "n.nspname", f"{alias}.{name}", None, f"{vis}({alias}.oid)")
        self.show(title, f"SELECT {', '.join(allcols)}\nFROM pg_catalog.{table} {alias}\n"
                  f"LEFT JOIN pg_catalog.pg_namespace n ON n.oid = {alias}.{nsp}\n" + _where(conds) + "ORDER BY 1, 2;")

    def do_dF(self, cmd: Command) -> None:
        if "+" in self._mods(cmd):
            self._ts_configs(self._pats(cmd)[0])
            return
        self._ts_list(cmd, "List of text search configurations", "pg_ts_config", "c", "cfgname", "cfgnamespace",
                      "pg_catalog.pg_ts_config_is_visible", [], [], "pg_ts_config")

    def _ts_configs(self, pattern: str | None) -> None:
        """\\dF+: one table per configuration, its token types and dictionaries."""
        conds = ["p.oid = c.cfgparser"] + self._np(pattern, "n.nspname", "c.cfgname", None,
                                                   "pg_catalog.pg_ts_config_is_visible(c.oid)")
        _h, cfgs, _n = self.query(
            "SELECT c.oid, c.cfgname,\n   n.nspname,\n   p.prsname,\n   np.nspname as pnspname\n"
            "FROM pg_catalog.pg_ts_config c\n   LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace,\n"
            " pg_catalog.pg_ts_parser p\n   LEFT JOIN pg_catalog.pg_namespace np ON np.oid = p.prsnamespace\n"
            + _where(conds) + "ORDER BY 3, 2;")
        if not cfgs:
            if not self._quiet():
                self.shell._where_notice(f'Did not find any text search configuration named "{pattern}".' if pattern
                                  else "Did not find any text search configurations.")
            return
        for oid, cfg, nsp, prs, pnsp in cfgs:
            headers, rows, numeric = self.query(
                "SELECT ( SELECT t.alias FROM pg_catalog.ts_token_type(c.cfgparser) AS t"
                " WHERE t.tokid = m.maptokentype ) AS \"Token\","
                " pg_catalog.btrim(ARRAY( SELECT mm.mapdict::pg_catalog.regdictionary"
                " FROM pg_catalog.pg_ts_config_map AS mm WHERE mm.mapcfg = m.mapcfg AND mm.maptokentype ="
                " m.maptokentype ORDER BY mapcfg, maptokentype, mapseqno ) :: pg_catalog.text, '{}')"
                ' AS "Dictionaries"\nFROM pg_catalog.pg_ts_config AS c, pg_catalog.pg_ts_config_map AS m\n'
                f"WHERE c.oid = '{oid}' AND m.mapcfg = c.oid\n"
                "GROUP BY m.mapcfg, m.maptokentype, c.cfgparser\nORDER BY 1;")
            title = f'Text search configuration "{nsp}.{cfg}"' if nsp else f'Text search configuration "{cfg}"'
            title += f'\nParser: "{pnsp}.{prs}"' if pnsp else f'\nParser: "{prs}"'
            self.describe._show(Listing(title, headers, rows, numeric=numeric, count=False))

    def do_dFd(self, cmd: Command) -> None:
        self._ts_list(cmd, "List of text search dictionaries", "pg_ts_dict", "d", "dictname", "dictnamespace",
                      "pg_catalog.pg_ts_dict_is_visible", [],
                      ["( SELECT COALESCE(nt.nspname, '(null)')::pg_catalog.text || '.' || t.tmplname FROM"
                       " pg_catalog.pg_ts_template t LEFT JOIN pg_catalog.pg_namespace nt ON nt.oid ="
                       ' t.tmplnamespace WHERE d.dicttemplate = t.oid ) AS "Template"',
                       'd.dictinitoption as "Init options"'], "pg_ts_dict")

    def do_dFp(self, cmd: Command) -> None:
        if "+" in self._mods(cmd):
            self._ts_parsers(self._pats(cmd)[0])
            return
        self._ts_list(cmd, "List of text search parsers", "pg_ts_parser", "p", "prsname", "prsnamespace",
                      "pg_catalog.pg_ts_parser_is_visible", [], [], "pg_ts_parser")

    def _ts_parsers(self, pattern: str | None) -> None:
        """\\dFp+: each parser's methods, then its token types."""
        conds = self._np(pattern, "n.nspname", "p.prsname", None, "pg_catalog.pg_ts_parser_is_visible(p.oid)")
        _h, prss, _n = self.query("SELECT p.oid,\n  n.nspname,\n  p.prsname\nFROM pg_catalog.pg_ts_parser p\n"
                                  "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace\n"
                                  + _where(conds) + "ORDER BY 1, 2;")
        if not prss:
            if not self._quiet():
                self.shell._where_notice(f'Did not find any text search parser named "{pattern}".' if pattern
                                  else "Did not find any text search parsers.")
            return
        for oid, nsp, prs in prss:
            methods = [("Start parse", "prsstart"), ("Get next token", "prstoken"), ("End parse", "prsend"),
                       ("Get headline", "prsheadline"), ("Get token types", "prslextype")]
            aliases = [(' AS "Method"', ' AS "Function"', ' as "Description"')] + [("", "", "")] * 4
            sql = "\nUNION ALL\n".join(
                f"SELECT '{label}'{a1}, p.{col}::pg_catalog.regproc{a2},"
                f" pg_catalog.obj_description(p.{col}, 'pg_proc'){a3}"
                f" FROM pg_catalog.pg_ts_parser p WHERE p.oid = '{oid}'"
                for (label, col), (a1, a2, a3) in zip(methods, aliases, strict=True)) + ";"
            headers, rows, numeric = self.query(sql)
            name = f'"{nsp}.{prs}"' if nsp else f'"{prs}"'
            self.describe._show(Listing(f"Text search parser {name}", headers, rows, numeric=numeric, count=False))
            headers, rows, numeric = self.query(
                'SELECT t.alias as "Token name",\n  t.description as "Description"\n'
                f"FROM pg_catalog.ts_token_type( '{oid}'::pg_catalog.oid ) as t\nORDER BY 1;")
            self.describe._show(Listing(f"Token types for parser {name}", headers, rows, numeric=numeric))

    def do_dFt(self, cmd: Command) -> None:
        self._ts_list(cmd, "List of text search templates", "pg_ts_template", "t", "tmplname", "tmplnamespace",
                      "pg_catalog.pg_ts_template_is_visible", [],
                      ['t.tmplinit::pg_catalog.regproc AS "Init"', 't.tmpllexize::pg_catalog.regproc AS "Lexize"'],
                      "pg_ts_template")

    # -- access methods, tablespaces, role settings ---------------------------------------------
    def do_dA(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ('amname AS "Name",\n  CASE amtype WHEN \'i\' THEN \'Index\' WHEN \'t\' THEN \'Table\' END AS "Type"')
        if verbose:
            cols += ',\n  amhandler AS "Handler",\n  pg_catalog.obj_description(oid, \'pg_am\') AS "Description"'
        conds = self._np(pattern, None, "amname", None, None, 1)
        self.show("List of access methods", f"SELECT {cols}\nFROM pg_catalog.pg_am\n" + _where(conds) + "ORDER BY 1;")

    def _am_type(self, cmd: Command) -> tuple[bool, str | None, str | None]:
        pats = self._pats(cmd)
        return "+" in self._mods(cmd), pats[0], (pats[1] if len(pats) > 1 else None)

    def do_dAc(self, cmd: Command) -> None:
        verbose, am, typ = self._am_type(cmd)
        cols = ['am.amname AS "AM"', 'pg_catalog.format_type(c.opcintype, NULL) AS "Input type"',
                "CASE WHEN c.opckeytype <> 0 AND c.opckeytype <> c.opcintype THEN"
                ' pg_catalog.format_type(c.opckeytype, NULL) ELSE NULL END AS "Storage type"',
                "CASE WHEN pg_catalog.pg_opclass_is_visible(c.oid) THEN pg_catalog.format('%I', c.opcname)"
                " ELSE pg_catalog.format('%I.%I', n.nspname, c.opcname) END AS \"Operator class\"",
                "(CASE WHEN c.opcdefault THEN 'yes' ELSE 'no' END) AS \"Default?\""]
        joins = ("  LEFT JOIN pg_catalog.pg_am am on am.oid = c.opcmethod\n"
                 "  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace\n"
                 "  LEFT JOIN pg_catalog.pg_type t ON t.oid = c.opcintype\n"
                 "  LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace\n")
        if verbose:
            cols += ["CASE WHEN pg_catalog.pg_opfamily_is_visible(of.oid) THEN pg_catalog.format('%I', of.opfname)"
                     " ELSE pg_catalog.format('%I.%I', ofn.nspname, of.opfname) END AS \"Operator family\"",
                     'pg_catalog.pg_get_userbyid(c.opcowner) AS "Owner"']
            joins += ("  LEFT JOIN pg_catalog.pg_opfamily of ON of.oid = c.opcfamily\n"
                      "  LEFT JOIN pg_catalog.pg_namespace ofn ON ofn.oid = of.opfnamespace\n")
        conds = self._np(am, None, "am.amname", None, None, 1)
        if typ is not None:
            conds += self._np(typ, "tn.nspname", "t.typname", "pg_catalog.format_type(t.oid, NULL)",
                              "pg_catalog.pg_type_is_visible(t.oid)")
        self.show("List of operator classes", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_opclass c\n{joins}"
                  + _where(conds) + "ORDER BY 1, 2, 4;")

    def do_dAf(self, cmd: Command) -> None:
        verbose, am, typ = self._am_type(cmd)
        cols = ['am.amname AS "AM"',
                "CASE WHEN pg_catalog.pg_opfamily_is_visible(f.oid) THEN pg_catalog.format('%I', f.opfname)"
                " ELSE pg_catalog.format('%I.%I', n.nspname, f.opfname) END AS \"Operator family\"",
                "(SELECT pg_catalog.string_agg(pg_catalog.format_type(oc.opcintype, NULL), ', ')"
                ' FROM pg_catalog.pg_opclass oc WHERE oc.opcfamily = f.oid) "Applicable types"']
        if verbose:
            cols.append('pg_catalog.pg_get_userbyid(f.opfowner) AS "Owner"')
        conds = self._np(am, None, "am.amname", None, None, 1)
        if typ is not None:
            sub = self._np(typ, "tn.nspname", "t.typname", "pg_catalog.format_type(t.oid, NULL)",
                           "pg_catalog.pg_type_is_visible(t.oid)")
            conds.append("EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_opclass oc ON oc.opcintype"
                         " = t.oid LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace"
                         " WHERE oc.opcfamily = f.oid " + "".join(f" AND {c}" for c in sub) + ")")
        self.show("List of operator families", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_opfamily f\n"
                  "  LEFT JOIN pg_catalog.pg_am am on am.oid = f.opfmethod\n"
                  "  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace\n" + _where(conds)
                  + "ORDER BY 1, 2;")

    def do_dAo(self, cmd: Command) -> None:
        verbose, am, fam = self._am_type(cmd)
        cols = ['am.amname AS "AM"',
                "CASE WHEN pg_catalog.pg_opfamily_is_visible(of.oid) THEN pg_catalog.format('%I', of.opfname)"
                " ELSE pg_catalog.format('%I.%I', nsf.nspname, of.opfname) END AS \"Operator family\"",
                'o.amopopr::pg_catalog.regoperator AS "Operator"', 'o.amopstrategy AS "Strategy"',
                "CASE o.amoppurpose WHEN 'o' THEN 'ordering' WHEN 's' THEN 'search' END AS \"Purpose\""]
        joins = ("  LEFT JOIN pg_catalog.pg_opfamily of ON of.oid = o.amopfamily\n"
                 "  LEFT JOIN pg_catalog.pg_am am ON am.oid = of.opfmethod AND am.oid = o.amopmethod\n"
                 "  LEFT JOIN pg_catalog.pg_namespace nsf ON of.opfnamespace = nsf.oid\n")
        if verbose:
            cols += ['ofs.opfname AS "Sort opfamily"',
                     "CASE WHEN p.proleakproof THEN 'yes' ELSE 'no' END AS \"Leakproof?\""]
            joins += ("  LEFT JOIN pg_catalog.pg_opfamily ofs ON ofs.oid = o.amopsortfamily\n"
                      "  LEFT JOIN pg_catalog.pg_operator op ON op.oid = o.amopopr\n"
                      "  LEFT JOIN pg_catalog.pg_proc p ON p.oid = op.oprcode\n")
        conds = self._np(am, None, "am.amname", None, None, 1)
        if fam is not None:
            conds += self._np(fam, "nsf.nspname", "of.opfname", None, None)
        self.show("List of operators of operator families", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_amop o\n"
                  f"{joins}" + _where(conds) + "ORDER BY 1, 2,\n  o.amoplefttype = o.amoprighttype DESC,\n"
                  "  pg_catalog.format_type(o.amoplefttype, NULL),\n"
                  "  pg_catalog.format_type(o.amoprighttype, NULL),\n  o.amopstrategy;")

    def do_dAp(self, cmd: Command) -> None:
        verbose, am, fam = self._am_type(cmd)
        cols = ['am.amname AS "AM"',
                "CASE WHEN pg_catalog.pg_opfamily_is_visible(of.oid) THEN pg_catalog.format('%I', of.opfname)"
                " ELSE pg_catalog.format('%I.%I', ns.nspname, of.opfname) END AS \"Operator family\"",
                'pg_catalog.format_type(ap.amproclefttype, NULL) AS "Registered left type"',
                'pg_catalog.format_type(ap.amprocrighttype, NULL) AS "Registered right type"',
                'ap.amprocnum AS "Number"',
                'ap.amproc::pg_catalog.regprocedure AS "Function"' if verbose else 'p.proname AS "Function"']
        conds = self._np(am, None, "am.amname", None, None, 1)
        if fam is not None:
            conds += self._np(fam, "ns.nspname", "of.opfname", None, None)
        self.show("List of support functions of operator families",
                  f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_amproc ap\n"
                  "  LEFT JOIN pg_catalog.pg_opfamily of ON of.oid = ap.amprocfamily\n"
                  "  LEFT JOIN pg_catalog.pg_am am ON am.oid = of.opfmethod\n"
                  "  LEFT JOIN pg_catalog.pg_namespace ns ON of.opfnamespace = ns.oid\n"
                  "  LEFT JOIN pg_catalog.pg_proc p ON ap.amproc = p.oid\n" + _where(conds)
                  + "ORDER BY 1, 2,\n  ap.amproclefttype = ap.amprocrighttype DESC,\n  3, 4, 5;")

    def do_db(self, cmd: Command) -> None:
        verbose, _system, pattern = self._one(cmd)
        cols = ['spcname AS "Name"', 'pg_catalog.pg_get_userbyid(spcowner) AS "Owner"',
                'pg_catalog.pg_tablespace_location(oid) AS "Location"']
        if verbose:
            cols += [f'{_acl("spcacl")} AS "Access privileges"', 'spcoptions AS "Options"',
                     'pg_catalog.pg_size_pretty(pg_catalog.pg_tablespace_size(oid)) AS "Size"',
                     "pg_catalog.shobj_description(oid, 'pg_tablespace') AS \"Description\""]
        conds = self._np(pattern, None, "spcname", None, None, 1)
        self.show("List of tablespaces", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_tablespace\n"
                  + _where(conds) + "ORDER BY 1;")

    def do_drds(self, cmd: Command) -> None:
        pats = self._pats(cmd)
        role, db = pats[0], (pats[1] if len(pats) > 1 else None)
        conds = self._np(role, None, "r.rolname", None, None, 1)
        conds += self._np(db, None, "d.datname", None, None, 1)
        if role and db:
            empty = f'Did not find any settings for role "{role}" and database "{db}".'
        elif role:
            empty = f'Did not find any settings for role "{role}".'
        else:
            empty = "Did not find any settings."
        self.show("List of settings", 'SELECT rolname AS "Role", datname AS "Database",\n'
                  "pg_catalog.array_to_string(setconfig, E'\\n') AS \"Settings\"\n"
                  "FROM pg_catalog.pg_db_role_setting s\n"
                  "LEFT JOIN pg_catalog.pg_database d ON d.oid = setdatabase\n"
                  "LEFT JOIN pg_catalog.pg_roles r ON r.oid = setrole\n" + _where(conds) + "ORDER BY 1, 2;",
                  empty=empty)

    # -- functions --------------------------------------------------------------------------
    def _functions(self, cmd: Command, kinds: str) -> None:
        """\\df[anptw][S+] [PATTERN [TYPEPTRN ...]]: psql's listing of functions, of the kinds
        given (aggregates, normal, procedures, trigger, window; none: all), by argument types."""
        mods = self._mods(cmd)
        verbose, system = "+" in mods, "S" in mods
        pats = self._pats(cmd)
        pattern, types = pats[0], pats[1:]
        cols = ['n.nspname as "Schema"', 'p.proname as "Name"',
                'pg_catalog.pg_get_function_result(p.oid) as "Result data type"',
                'pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types"',
                "CASE p.prokind WHEN 'a' THEN 'agg' WHEN 'w' THEN 'window' WHEN 'p' THEN 'proc' ELSE 'func' END"
                ' as "Type"']
        joins = "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n"
        if verbose:
            cols += ["CASE WHEN p.provolatile = 'i' THEN 'immutable' WHEN p.provolatile = 's' THEN 'stable'"
                     " WHEN p.provolatile = 'v' THEN 'volatile' END as \"Volatility\"",
                     "CASE WHEN p.proparallel = 'r' THEN 'restricted' WHEN p.proparallel = 's' THEN 'safe'"
                     " WHEN p.proparallel = 'u' THEN 'unsafe' END as \"Parallel\"",
                     'pg_catalog.pg_get_userbyid(p.proowner) as "Owner"',
                     "CASE WHEN prosecdef THEN 'definer' ELSE 'invoker' END AS \"Security\"",
                     "CASE WHEN p.proleakproof THEN 'yes' ELSE 'no' END as \"Leakproof?\"",
                     f'{_acl("p.proacl")} AS "Access privileges"', 'l.lanname as "Language"',
                     "CASE WHEN l.lanname IN ('internal', 'c') THEN p.prosrc END as \"Internal name\"",
                     "pg_catalog.obj_description(p.oid, 'pg_proc') as \"Description\""]
            joins += "     LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang\n"
        conds: list[str] = []
        trigger = "p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype"
        if kinds == "n" or (kinds and "n" in kinds):
            # psql: normal functions shown, the kinds not asked for left out
            for k, cond in (("a", "p.prokind <> 'a'"), ("p", "p.prokind <> 'p'"),
                            ("t", "p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype"),
                            ("w", "p.prokind <> 'w'")):
                if k not in kinds:
                    conds.append(cond)
        elif kinds:
            ors = [{"a": "p.prokind = 'a'", "p": "p.prokind = 'p'", "t": trigger, "w": "p.prokind = 'w'"}[k]
                   for k in "aptw" if k in kinds]
            conds.append("(\n       " + "\n       OR ".join(ors) + "\n      )")
        conds += self._np(pattern, "n.nspname", "p.proname", None, "pg_catalog.pg_function_is_visible(p.oid)")
        for i, typ in enumerate(types):
            if typ == "-":
                conds.append(f"p.proargtypes[{i}] IS NULL")
                continue
            joins += (f"     LEFT JOIN pg_catalog.pg_type t{i} ON t{i}.oid = p.proargtypes[{i}]\n"
                      f"     LEFT JOIN pg_catalog.pg_namespace nt{i} ON nt{i}.oid = t{i}.typnamespace\n")
            conds += self._np(type_pattern(typ), f"nt{i}.nspname", f"t{i}.typname",
                              f"pg_catalog.format_type(t{i}.oid, NULL)",
                              f"pg_catalog.pg_type_is_visible(t{i}.oid)")
        if not system and pattern is None:
            conds.append(_SYS)
        self.show("List of functions", f"SELECT {', '.join(cols)}\nFROM pg_catalog.pg_proc p\n{joins}"
                  + _where(conds) + "ORDER BY 1, 2, 4;")

    def do_df(self, cmd: Command) -> None:
        self._functions(cmd, "")

    def do_dfa(self, cmd: Command) -> None:
        self._functions(cmd, "a")

    def do_dfn(self, cmd: Command) -> None:
        self._functions(cmd, "n")

    def do_dfp(self, cmd: Command) -> None:
        self._functions(cmd, "p")

    def do_dft(self, cmd: Command) -> None:
        self._functions(cmd, "t")

    def do_dfw(self, cmd: Command) -> None:
        self._functions(cmd, "w")

    # -- \sf and \sv: an object's source ---------------------------------------------------------
    def _source(self, text: str, numbered: bool, is_func: bool) -> None:
        """Print a CREATE command as psql does: as is, or (``+``) with the body's lines numbered."""
        if not text.endswith("\n"):
            text += "\n"
        if numbered:
            out, header, lineno = [], is_func, 0
            for line in text[:-1].split("\n"):
                if header and line.startswith(("AS ", "BEGIN ", "RETURN ")):
                    header = False
                if header:
                    out.append(f"        {line}")
                else:
                    lineno += 1
                    out.append(f"{lineno:<7} {line}")
            text = "\n".join(out) + "\n"
        if self.shell.json:
            from qshell.output.json_lines import json_line

            self.shell.write(json_line({"type": "source", "text": text}))
            return
        self.shell.write(text[:-1])

    def do_sf(self, cmd: Command) -> None:
        """\\sf[+] FUNCTION: the function's CREATE OR REPLACE command (pg_get_functiondef)."""
        name = cmd.arg.strip()
        if not name:
            raise UsageError("function name is required")
        text = self._function_def(name)
        if text:  # ('-'::regproc is 0: no definition, and psql prints nothing)
            self._source(text, "+" in self._mods(cmd), True)

    def _function_def(self, name: str) -> str:
        cast = "regprocedure" if "(" in name else "regproc"
        _h, rows, _n = self.query(f"SELECT {_lit(name)}::pg_catalog.{cast}::pg_catalog.oid")
        _h, rows, _n = self.query(f"SELECT pg_catalog.pg_get_functiondef({rows[0][0]})")
        return rows[0][0] or ""

    def do_sv(self, cmd: Command) -> None:
        """\\sv[+] VIEW: the view's CREATE OR REPLACE VIEW command, built as psql builds it."""
        name = cmd.arg.strip()
        if not name:
            raise UsageError("view name is required")
        self._source(self._view_def(name), "+" in self._mods(cmd), False)

    def _view_def(self, name: str) -> str:
        _h, rows, _n = self.query(f"SELECT {_lit(name)}::pg_catalog.regclass::pg_catalog.oid")
        oid = rows[0][0]
        _h, rows, _n = self.query(
            "SELECT nspname, relname, relkind, pg_catalog.pg_get_viewdef(c.oid, true),"
            " pg_catalog.array_remove(pg_catalog.array_remove(c.reloptions,'check_option=local'),"
            "'check_option=cascaded') AS reloptions,"
            " CASE WHEN 'check_option=local' = ANY (c.reloptions) THEN 'LOCAL'::text"
            " WHEN 'check_option=cascaded' = ANY (c.reloptions) THEN 'CASCADED'::text ELSE NULL END AS checkoption,"
            " pg_catalog.quote_ident(nspname), pg_catalog.quote_ident(relname),"
            " pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(pg_catalog.split_part(o, '=', 1))"
            " || '=' ||"
            " pg_catalog.quote_literal(pg_catalog.substr(o, pg_catalog.strpos(o, '=') + 1))"
            " FROM pg_catalog.unnest(pg_catalog.array_remove(pg_catalog.array_remove(c.reloptions,"
            "'check_option=local'),'check_option=cascaded')) o), ', ')"
            " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid"
            f" WHERE c.oid = {oid}")
        if not rows:  # '-'::regclass is 0, no relation (psql's lookup then says so)
            raise QshellError("ERROR:  (not available)")
        nsp, rel, relkind, viewdef, _opts, check, qnsp, qrel, options = rows[0]
        if relkind != "v":
            raise UsageError(f'"{nsp}.{rel}" is not a view')
        text = f"CREATE OR REPLACE VIEW {qnsp}.{qrel}"
        if options:  # psql's appendReloptionsArray: name='value', ...
            text += f"\n WITH ({options})"
        text += f" AS\n{viewdef or ''}"
        if text.endswith(";"):
            text = text[:-1]
        if check:
            text += f"\n WITH {check} CHECK OPTION"
        return text

    # -- \ef and \ev: the same text in the editor ----------------------------------------------------
    def _edit(self, what: str, name: str) -> None:
        """Open the object's CREATE OR REPLACE command (psql's template without a name) in the
        editor; what comes back waits at the prompt, to be run with Enter (psql's query buffer)."""
        from qshell.shell.editor import edit

        if not getattr(self.shell, "interactive", False):
            raise UsageError(f"\\e{what[0]} needs a terminal (it opens $EDITOR)")
        line = None
        words = name.rsplit(None, 1)
        if len(words) == 2 and words[1].isdigit():  # psql: a last word of digits is the line to open at
            name, line = words[0], int(words[1])
            if line <= 0:
                raise UsageError("invalid line number: " + words[1])
        if what == "function":
            text = self._function_def(name) if name else (
                "CREATE FUNCTION ( )\n RETURNS \n LANGUAGE \n"
                " -- common options:  IMMUTABLE  STABLE  STRICT  SECURITY DEFINER\nAS $function$\n\n$function$\n")
        else:
            text = self._view_def(name) if name else "CREATE VIEW  AS\n SELECT \n  -- something...\n"
        if not text.endswith("\n"):
            text += "\n"
        if line is not None and what == "function":  # psql: line 1 is the body's first line
            for header, body_line in enumerate(text.split("\n")):
                if body_line.startswith(("AS ", "BEGIN ", "RETURN ")):
                    line += header
                    break
        self.shell.prefill = edit(text, line).rstrip("\n")  # type: ignore[attr-defined]  # the Shell's next prompt

    def do_ef(self, cmd: Command) -> None:
        """\\ef [FUNCTION [LINE]]: edit a function's definition (LINE: of its body, as psql)."""
        self._edit("function", cmd.arg.strip())

    def do_ev(self, cmd: Command) -> None:
        """\\ev [VIEW [LINE]]: edit a view's definition."""
        self._edit("view", cmd.arg.strip())

    # -- aggregates, role grants, large objects ----------------------------------------------------
    def do_da(self, cmd: Command) -> None:
        _verbose, system, pattern = self._one(cmd)
        conds = ["p.prokind = 'a'"]
        if not system and pattern is None:
            conds.append(_SYS)
        conds += self._np(pattern, "n.nspname", "p.proname", None, "pg_catalog.pg_function_is_visible(p.oid)")
        self.show("List of aggregate functions",
                  'SELECT n.nspname as "Schema", p.proname AS "Name",'
                  ' pg_catalog.format_type(p.prorettype, NULL) AS "Result data type",'
                  " CASE WHEN p.pronargs = 0 THEN CAST('*' AS pg_catalog.text)"
                  ' ELSE pg_catalog.pg_get_function_arguments(p.oid) END AS "Argument data types",'
                  " pg_catalog.obj_description(p.oid, 'pg_proc') as \"Description\"\nFROM pg_catalog.pg_proc p\n"
                  "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n" + _where(conds)
                  + "ORDER BY 1, 2, 4;")

    def do_drg(self, cmd: Command) -> None:
        _verbose, system, pattern = self._one(cmd)
        conds = ["m.rolname !~ '^pg_'"] if not system and pattern is None else []
        conds += self._np(pattern, None, "m.rolname", None, None, 1)
        self.show("List of role grants",
                  'SELECT m.rolname AS "Role name", r.rolname AS "Member of",'
                  " pg_catalog.concat_ws(', ', CASE WHEN pam.admin_option THEN 'ADMIN' END,"
                  " CASE WHEN pam.inherit_option THEN 'INHERIT' END, CASE WHEN pam.set_option THEN 'SET' END)"
                  ' AS "Options", g.rolname AS "Grantor"\nFROM pg_catalog.pg_roles m\n'
                  "     JOIN pg_catalog.pg_auth_members pam ON (pam.member = m.oid)\n"
                  "     LEFT JOIN pg_catalog.pg_roles r ON (pam.roleid = r.oid)\n"
                  "     LEFT JOIN pg_catalog.pg_roles g ON (pam.grantor = g.oid)\n" + _where(conds)
                  + "ORDER BY 1, 2, 4;")

    def do_dl(self, cmd: Command) -> None:
        verbose = "+" in self._mods(cmd)
        acl = f'  {_acl("lomacl")} AS "Access privileges",\n' if verbose else ""
        self.show("Large objects", 'SELECT oid as "ID",\n  pg_catalog.pg_get_userbyid(lomowner) as "Owner",\n'
                  f"{acl}  pg_catalog.obj_description(oid, 'pg_largeobject') as \"Description\"\n"
                  "FROM pg_catalog.pg_largeobject_metadata\nORDER BY oid")
