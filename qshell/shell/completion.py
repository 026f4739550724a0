"""Tab completion for the terminal: meta-commands and their arguments, SQL keywords,
and names from the connected database's catalog (loaded in a background greenlet so
the prompt never waits for it; reloaded after \\c and after DDL)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import gevent
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from qshell.output.styles import FORMATS
from qshell.script import commands
from qshell.shell.settings import HELP as SETTINGS

if TYPE_CHECKING:  # pragma: no cover
    from qshell.shell.loop import Shell

_CATALOG_SQL = {
    "schemas": "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_(toast|temp)' ORDER BY 1",
    "relations": (
        "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r','v','m','p','f') AND n.nspname !~ '^pg_(toast|temp)'"
        " AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR c.relname LIKE 'pg\\_stat%')"
    ),
    "columns": (
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','v','m','p','f')"
        " AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR c.relname LIKE 'pg\\_stat%')"
        " AND n.nspname !~ '^pg_(toast|temp)' ORDER BY c.relname, a.attnum"
    ),
    "functions": (
        "SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname NOT IN ('information_schema') AND p.proname !~ '^_'"
    ),
}
_RELATION_CONTEXT = re.compile(r"\b(from|join|update|into|table|truncate|describe)\s+(\w*)$", re.I)
_DOTTED = re.compile(r"(\w+)\.(\w*)$")


@dataclass
class Catalog:
    schemas: list[str] = field(default_factory=list)
    relations: dict[str, str] = field(default_factory=dict)  # name -> kind (table, view...)
    columns: dict[str, list[str]] = field(default_factory=dict)  # relation -> columns
    functions: list[str] = field(default_factory=list)


_KINDS = {"r": "table", "v": "view", "m": "materialized view", "p": "table", "f": "foreign table"}


def load_catalog(db) -> Catalog:  # noqa: ANN001 - pool.Database
    """Read names from the catalog with four queries on a pooled connection."""
    cat = Catalog()
    rows = {k: db.rows(sql) for k, sql in _CATALOG_SQL.items()}
    cat.schemas = [r[0] for r in rows["schemas"]]
    for nsp, rel, kind in rows["relations"]:
        cat.relations[rel] = _KINDS.get(kind, "relation")
        if nsp not in ("public", "pg_catalog"):
            cat.relations[f"{nsp}.{rel}"] = _KINDS.get(kind, "relation")
    for rel, col in rows["columns"]:
        cat.columns.setdefault(rel, []).append(col)
    cat.functions = sorted(r[0] for r in rows["functions"])
    return cat


class CatalogLoader:
    """Keeps the catalog of the shell's current connection, refreshed in the background."""

    def __init__(self, shell: "Shell") -> None:
        self.shell = shell
        self.catalog = Catalog()
        self._job: gevent.Greenlet | None = None

    def refresh(self) -> None:
        """Start (or restart) loading; returns at once."""
        if self._job is not None and not self._job.dead:
            self._job.kill(block=False)
        self._job = gevent.spawn(self._load)

    def _load(self) -> None:
        try:
            self.catalog = load_catalog(self.shell.session.pool)
        except Exception:  # noqa: BLE001 - completion is a comfort: never an error for the user
            pass

    def wait(self, timeout: float = 5.0) -> None:
        if self._job is not None:
            self._job.join(timeout)


def _words(items: Iterable[str], prefix: str, meta: str = "") -> Iterable[Completion]:
    low = prefix.lower()
    for item in items:
        if item.lower().startswith(low):
            yield Completion(item, start_position=-len(prefix), display_meta=meta)


class QshellCompleter(Completer):
    def __init__(self, shell: "Shell", loader: CatalogLoader) -> None:
        self.shell = shell
        self.loader = loader
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event):  # noqa: ANN001, ANN201
        text = document.text_before_cursor
        line = document.current_line_before_cursor
        if line.lstrip().startswith("\\") and document.cursor_position_row == text.count("\n"):
            yield from self._meta(line.lstrip())
            return
        yield from self._sql(text)

    def _meta(self, line: str) -> Iterable[Completion]:
        parts = line.split(" ")
        if len(parts) == 1:  # the command word
            word = parts[0][1:]
            names = sorted({"\\" + name for name in commands.BY_NAME})
            yield from _words(names, "\\" + word, "")
            return
        name = commands.BY_NAME.get(parts[0][1:])
        if name is None:
            return
        arg = parts[-1]
        cmd = name.name
        if cmd in ("i", "addfile"):
            yield from self.paths.get_completions(Document(arg, len(arg)), CompleteEvent())
        elif cmd == "set" and len(parts) == 2:
            yield from _words(list(SETTINGS), arg, "setting")
        elif cmd == "set" and len(parts) == 3:
            choices = {"tx": ["autocommit", "rollback"], "order": ["fifo", "longest-first"], "format": list(FORMATS),
                       "isolation": ["default", "read", "repeatable", "serializable"], "on_error": ["continue", "cancel"],
                       "expanded": ["off", "on", "auto"]}.get(parts[1], ["on", "off"] if parts[1] in (
                           "readonly", "timeline", "sample", "on_error_stop", "pager") else [])
            yield from _words(choices, arg)
        elif cmd in ("drop", "e"):
            for i, sql in enumerate(self.shell.staged, start=1):
                if str(i).startswith(arg):
                    yield Completion(str(i), start_position=-len(arg), display_meta=" ".join(sql.split())[:60])
        elif cmd in ("load", "save"):
            d = self.shell.sets_dir
            names = sorted(p.stem for p in d.glob("*.sql")) if d and d.is_dir() else []
            yield from _words(names, arg, "saved set")
        elif cmd == "format":
            yield from _words(FORMATS, arg)
        elif cmd in ("x", "pager"):
            yield from _words(["on", "off", "auto"] if cmd == "x" else ["on", "off"], arg)
        elif cmd in ("d", "dt", "di", "dv", "dm", "ds"):
            yield from _words(sorted(self.loader.catalog.relations), arg, "relation")
        elif cmd == "timing":
            yield from _words(["on", "off"], arg)
        elif cmd == "sandbox" and len(parts) == 2:
            yield from _words(["init"], arg)

    def _sql(self, text: str) -> Iterable[Completion]:
        cat = self.loader.catalog
        dotted = _DOTTED.search(text)
        if dotted:
            table, prefix = dotted.group(1), dotted.group(2)
            yield from _words(cat.columns.get(table, []), prefix, f"column of {table}")
            yield from _words([r.split(".", 1)[1] for r in cat.relations if r.startswith(table + ".")], prefix, "relation")
            return
        m = re.search(r"(\w*)$", text)
        prefix = m.group(1) if m else ""
        if _RELATION_CONTEXT.search(text):
            for rel, kind in sorted(cat.relations.items()):
                if rel.lower().startswith(prefix.lower()):
                    yield Completion(rel, start_position=-len(prefix), display_meta=kind)
            yield from _words(cat.schemas, prefix, "schema")
            return
        if not prefix:
            return
        # columns of the relations named in the statement first, then every name and keyword
        named = {w for w in re.findall(r"\w+", text) if w in cat.columns}
        seen: set[str] = set()
        for rel in sorted(named):
            for c in _words(cat.columns[rel], prefix, f"column of {rel}"):
                if c.text not in seen:
                    seen.add(c.text)
                    yield c
        for rel, kind in sorted(cat.relations.items()):
            if rel.lower().startswith(prefix.lower()) and rel not in seen:
                seen.add(rel)
                yield Completion(rel, start_position=-len(prefix), display_meta=kind)
        yield from _words(cat.functions, prefix, "function")
        yield from _words(_keywords(), prefix, "keyword")


_KEYWORDS: list[str] | None = None


def _keywords() -> list[str]:
    global _KEYWORDS
    if _KEYWORDS is None:
        from pygments.lexers._postgres_builtins import DATATYPES, KEYWORDS

        _KEYWORDS = sorted(set(KEYWORDS) | {d.upper() for d in DATATYPES})
    return _KEYWORDS
