"""The package's layers: no import cycles between any two modules, and the import-linter
contracts of pyproject.toml kept (.ci/run runs ``lint-imports`` too).

Every import counts, as grimp reads them: module level, inside functions, and under
``TYPE_CHECKING``; none is excluded.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing
    itself): each is at least one import cycle. Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(sorted(component))
    return found


def qshell_edges() -> dict[str, set[str]]:
    graph = grimp.build_graph("qshell", cache_dir=None)
    return {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}


def test_the_cycle_finder_finds_cycles():
    """The check can fail: a three-module circle, a two-module one and a self-import are found;
    a chain is not."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"f"}, "g": {"a"}}
    assert sorted(cycles(edges)) == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles_in_qshell():
    edges = qshell_edges()
    assert len(edges) > 40 and "qshell.engine.pool" in edges  # the graph is the real package
    # function-level imports are in the graph: cli imports the shell inside main()
    assert "qshell.shell.loop" in edges["qshell.cli"]
    assert cycles(edges) == []


def test_import_contracts_are_kept():
    """pyproject.toml's contracts: the layers top to bottom, the engine and records free of
    UI libraries and of the layers above, no cycles between siblings."""
    p = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
                        "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 broken" in p.stdout
