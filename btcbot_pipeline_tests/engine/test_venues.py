"""The engine knows no venue: it is handed its snapshots and its opening balances.

Which market data a cycle reads and what a new book opens with are chosen in
``definitions.py`` (a market-data resource per venue); ``engine.py`` imports no adapter,
not even inside a function, so a new venue (live execution) is added beside the others
without touching it. Read from the source with ``ast``, as the import-circle test does.
"""

from __future__ import annotations

import ast

from btcbot_pipeline_tests.domain.test_import_graph import _base, all_imports, module_files

ENGINE = "btcbot_pipeline.engine"
ADAPTERS = "btcbot_pipeline.adapters"


def imported_modules(module: str) -> set[str]:
    """Every module ``module`` imports, wherever the import statement is."""
    path = module_files()[module]
    found: set[str] = set()
    for node in all_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        else:
            base = _base(module, path.name == "__init__.py", node)
            found.update({base, *(f"{base}.{alias.name}" for alias in node.names)})
    return found


def test_the_engine_imports_no_adapter() -> None:
    imported = imported_modules(ENGINE)
    assert "btcbot_pipeline.domain.account" in imported  # the reader sees the engine's imports
    adapters = sorted(m for m in imported if m == ADAPTERS or m.startswith(f"{ADAPTERS}."))
    assert adapters == [], (
        f"{ENGINE} imports {adapters}: hand it what it needs (see OpeningBalances, Snapshots) instead"
    )
