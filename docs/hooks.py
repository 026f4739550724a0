"""MkDocs hooks for qshell's docs (docs/mkdocs.yml names this file under ``hooks:``).

- The reference page (reference.md) gets its tables of meta-commands, settings and
  command-line options from the tables qshell itself parses, dispatches and prints
  ``\\?``, ``\\set`` and ``--help`` from, so the reference cannot drift from the code: a
  command added to the table appears here.
- guide/psql.md's tables of every psql meta-command and option come from
  qshell/script/compat.py, which a test holds against psql's own help.
- The benchmark's records page is history/README.md, which ``python -m qshell.bench``
  regenerates: included as it is, never copied.
- MkDocs refuses the config file's folder as docs_dir; the pages live there all the same
  (docs/*.md, docs/guide/*.md), so on_config points docs_dir back at it.
"""
from __future__ import annotations

import html
import os
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent  # the checkout: document its own code
sys.path.insert(0, str(ROOT))

# The tables the reference is generated from (if these modules move, change these lines):
from qshell.cli import build_parser  # noqa: E402  (the command line's options)
from qshell.script.commands import TABLE as COMMANDS  # noqa: E402
from qshell.shell.settings import HELP as SETTINGS  # noqa: E402
from qshell.shell.settings import Settings, show  # noqa: E402

INCLUDED = {"records.md": ROOT / "history" / "README.md"}  # page → the file it is, outside docs/
MARKERS = ("<!-- commands -->", "<!-- settings -->", "<!-- options -->")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.docs_dir = os.path.dirname(config.config_file_path)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, path in INCLUDED.items():
        if not path.is_file():
            raise PluginError(f"{path} is missing: the page {uri} is that file")
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def commands_table() -> str:
    """The meta-commands grouped as ``\\?`` groups them, in the table's order."""
    groups = list(dict.fromkeys(spec.group for spec in COMMANDS))
    parts = []
    for group in groups:
        rows = []
        for spec in COMMANDS:
            if spec.group != group:
                continue
            aliases = ", ".join(_code("\\" + a) for a in spec.aliases)
            rows.append(f'<tr id="cmd-{html.escape(spec.name)}"><td>{_code(spec.usage)}</td><td>{aliases}</td>'
                        f"<td>{html.escape(spec.help)}</td></tr>")
        parts.append(f"### {group}\n\n<table>\n<thead><tr><th>command</th><th>also</th><th>what it does</th></tr></thead>\n"
                     "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n")
    return "\n".join(parts)


def settings_table() -> str:
    """Every setting of ``\\set``: its name, its default as ``\\set`` shows it, its help."""
    defaults = Settings()
    rows = [f'<tr id="set-{html.escape(name)}"><td>{_code(name)}</td><td>{_code(show(getattr(defaults, name), name))}</td>'
            f"<td>{html.escape(text)}</td></tr>" for name, (_, text) in SETTINGS.items()]
    return ("<table>\n<thead><tr><th>setting</th><th>default</th><th>meaning</th></tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table>\n")


def options_table() -> str:
    """The command line's arguments and options, from the parser ``qshell --help`` prints."""
    rows = []
    for action in build_parser()._actions:
        if action.help == "==SUPPRESS==":  # (argparse.SUPPRESS: psql's extra arguments, warned of)
            continue
        if action.option_strings:
            arg = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
            names = ", ".join(_code(o + arg) for o in action.option_strings)
        else:
            names = _code(action.dest.upper())
        rows.append(f"<tr><td>{names}</td><td>{html.escape(action.help or '')}</td></tr>")
    return ("<table>\n<thead><tr><th>argument</th><th>meaning</th></tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table>\n")


PSQL_MARKERS = ("<!-- psql-commands -->", "<!-- psql-options -->")  # in guide/psql.md


def psql_tables(markdown: str) -> str:
    """guide/psql.md's tables of every psql meta-command and option, from
    qshell/script/compat.py (which tests/test_compat.py holds against psql's own help)."""
    from qshell.script.compat import COMMANDS, OPTIONS, markdown_table

    for marker in PSQL_MARKERS:
        if markdown.count(marker) != 1:
            raise PluginError(f"guide/psql.md must hold {marker} once: the generated table goes there")
    markdown = markdown.replace(PSQL_MARKERS[0], markdown_table(COMMANDS, "meta-command"))
    return markdown.replace(PSQL_MARKERS[1], markdown_table(OPTIONS, "option"))


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == "guide/psql.md":
        return psql_tables(markdown)
    if page.file.src_uri != "reference.md":
        return markdown
    for marker in MARKERS:
        if markdown.count(marker) != 1:
            raise PluginError(f"reference.md must hold {marker} once: the generated table goes there")
    for marker, table in zip(MARKERS, (commands_table(), settings_table(), options_table()), strict=True):
        markdown = markdown.replace(marker, table)
    return markdown
