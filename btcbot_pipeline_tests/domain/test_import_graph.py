"""No import circle in ``btcbot_pipeline``, and none in ``domain/`` even when deferred.

The graph is read from the source with ``ast``: one node per module, one edge per import
that runs when the module is imported (module level, class bodies, ``try`` / ``if``
branches). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module of
the package, else to ``pkg``. A package's own ``__init__`` importing its submodules is not
a circle by itself: importing ``pkg.sub`` is an edge to ``pkg.sub`` only, not to ``pkg``.

Imports inside functions and under ``if TYPE_CHECKING:`` run later or never; they are
edges too in the ``deferred=True`` graph, checked over the whole package: that is how a
circle hides, and the domain's seven-module circle did (``params`` imported
``oms_market`` inside a function, ``market`` imported ``universe`` inside one).

A circle is a strongly connected component of more than one module, or a module that
imports itself; the tests name each one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import btcbot_pipeline

PACKAGE = "btcbot_pipeline"
PACKAGE_DIR = Path(btcbot_pipeline.__file__).parent

Graph = Mapping[str, frozenset[str]]


def module_files(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted name → file of every module under ``root`` (``pkg/__init__.py`` is ``pkg``)."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((package, *parts))] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def import_time_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of ``body`` that run when the module is imported."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from import_time_imports(node.body)
            yield from import_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from import_time_imports(block)
        elif isinstance(node, ast.With):
            yield from import_time_imports(node.body)
        elif isinstance(node, ast.ClassDef):
            yield from import_time_imports(node.body)


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a (possibly relative) ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def all_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree``, wherever it is (functions, ``TYPE_CHECKING``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def import_graph(files: Mapping[str, Path], *, deferred: bool = False) -> dict[str, frozenset[str]]:
    """Module → the package's modules it imports at import time (any time if ``deferred``)."""
    graph: dict[str, frozenset[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in all_imports(tree) if deferred else import_time_imports(tree.body):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = _base(module, path.name == "__init__.py", node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in files else base)
        graph[module] = frozenset(t for t in targets if t in files)
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module, and self-imports (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(root: str) -> None:
        # Iterative depth-first search, so a long chain cannot hit the recursion limit.
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_circles_are_found() -> None:
    # The search itself can fail: a triangle, a self-import and a tail must come out right.
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a", "d"}),
        "d": frozenset({"d"}),
        "e": frozenset({"a"}),
    }
    assert circles(graph) == [["a", "b", "c"], ["d"]]
    assert circles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_graph_reads_what_runs_at_import_time(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import leaf\n")
    (pkg / "sub" / "leaf.py").write_text("from ..top import X\n")
    (pkg / "top.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import pkg.sub.leaf\n"
        "if TYPE_CHECKING:\n    from pkg import late\n"
        "def f():\n    from pkg import late\n"
        "try:\n    from pkg.sub import leaf\nexcept ImportError:\n    pass\n"
    )
    (pkg / "late.py").write_text("from pkg.top import X\n")
    graph = import_graph(module_files(pkg, "pkg"))
    assert graph == {
        "pkg": frozenset(),
        "pkg.late": frozenset({"pkg.top"}),
        "pkg.sub": frozenset({"pkg.sub.leaf"}),
        "pkg.sub.leaf": frozenset({"pkg.top"}),
        "pkg.top": frozenset({"pkg.sub.leaf"}),
    }
    assert circles(graph) == [["pkg.sub.leaf", "pkg.top"]]
    deferred = import_graph(module_files(pkg, "pkg"), deferred=True)
    assert deferred["pkg.top"] == frozenset({"pkg.late", "pkg.sub.leaf"})
    assert circles(deferred) == [["pkg.late", "pkg.sub.leaf", "pkg.top"]]


def test_the_graph_covers_the_package() -> None:
    graph = import_graph(module_files())
    assert len(graph) > 50
    assert "btcbot_pipeline.domain.money" in graph["btcbot_pipeline.domain.ledger"]


def _report(found: list[list[str]]) -> str:
    return "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_btcbot_pipeline_has_no_import_circle() -> None:
    found = circles(import_graph(module_files()))
    assert found == [], _report(found)


def test_domain_has_no_import_circle_even_through_deferred_imports() -> None:
    domain = {m: p for m, p in module_files().items() if m.startswith(f"{PACKAGE}.domain")}
    found = circles(import_graph(domain, deferred=True))
    assert found == [], _report(found)


def test_btcbot_pipeline_has_no_import_circle_even_through_deferred_imports() -> None:
    # The last one was storage.book <-> storage.seal, through imports inside functions: the
    # schema is now storage/schema.py, which both read.
    found = circles(import_graph(module_files(), deferred=True))
    assert found == [], _report(found)
