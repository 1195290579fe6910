"""The domain package stays pure: no I/O libraries, no environment, no floats.

Each module is imported in a fresh interpreter (``python -c``) so that whatever the test
session already imported (pytest plugins, Dagster in other test packages) cannot hide or
fake an import. The static checks read the source with ``ast``.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import btcbot_pipeline.domain as domain_package

FORBIDDEN = ("dagster", "duckdb", "httpx", "great_expectations", "pandas")
DOMAIN_DIR = Path(domain_package.__file__).parent
DOMAIN_MODULES = sorted(m.name for m in pkgutil.walk_packages([str(DOMAIN_DIR)], prefix="btcbot_pipeline.domain."))
EXPECTED_AT_LEAST = {
    "btcbot_pipeline.domain.cycle",
    "btcbot_pipeline.domain.exchange_rules",
    "btcbot_pipeline.domain.fills",
    "btcbot_pipeline.domain.intents",
    "btcbot_pipeline.domain.ledger",
    "btcbot_pipeline.domain.market",
    "btcbot_pipeline.domain.money",
    "btcbot_pipeline.domain.oms",
    "btcbot_pipeline.domain.oms.exchange",
    "btcbot_pipeline.domain.oms.orders",
    "btcbot_pipeline.domain.oms.step",
    "btcbot_pipeline.domain.params",
    "btcbot_pipeline.domain.payloads",
    "btcbot_pipeline.domain.plan",
    "btcbot_pipeline.domain.trace",
    "btcbot_pipeline.domain.universe",
    "btcbot_pipeline.domain.utc",
    "btcbot_pipeline.domain.vocabulary",
}
DOMAIN_FILES = sorted(DOMAIN_DIR.rglob("*.py"))

_PROBE = """
import importlib, sys
importlib.import_module({module!r})
forbidden = {forbidden!r}
print(",".join(sorted({{name.split(".")[0] for name in sys.modules}} & set(forbidden))))
"""


def imported_forbidden(module: str, forbidden: tuple[str, ...] = FORBIDDEN) -> list[str]:
    """Top-level packages of ``forbidden`` present in ``sys.modules`` after importing ``module``."""
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module, forbidden=forbidden)],
        capture_output=True,
        text=True,
        check=False,
        cwd=DOMAIN_DIR.parent.parent,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout.strip()
    return out.split(",") if out else []


def test_every_known_domain_module_is_discovered() -> None:
    # Guards the parametrisation below: an empty or partial discovery would pass vacuously.
    assert EXPECTED_AT_LEAST <= set(DOMAIN_MODULES)
    assert len(DOMAIN_FILES) == len(DOMAIN_MODULES) + 1  # + the domain's own __init__.py


def test_probe_reports_a_forbidden_import() -> None:
    # The probe itself can fail: importing email.message must show up as "email".
    assert imported_forbidden("email.message", ("email", "dagster")) == ["email"]


@pytest.mark.parametrize("module", ["btcbot_pipeline.domain", *DOMAIN_MODULES])
def test_domain_module_imports_no_io_library(module: str) -> None:
    assert imported_forbidden(module) == []


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def os_uses(tree: ast.AST) -> list[str]:
    """Every ``import os`` / ``from os`` / ``os.environ`` / ``os.getenv`` / ``environ`` use."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "os"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "os":
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
            found.append(f".{node.attr}")
        elif isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
            found.append(node.id)
    return found


def float_calls(tree: ast.AST) -> list[int]:
    """Line numbers of every call to the builtin ``float``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float"
    ]


def test_static_checks_catch_what_they_look_for() -> None:
    bad = ast.parse("import os\nfrom os import path\nx = os.environ['A']\ny = float('1.5')\n")
    assert os_uses(bad) == ["import os", "from os import ...", ".environ"]
    assert float_calls(bad) == [4]
    clean = ast.parse("from decimal import Decimal\nok = isinstance(1, float)\n")
    assert os_uses(clean) == []
    assert float_calls(clean) == []


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(DOMAIN_DIR)))
def test_domain_module_does_not_touch_os_or_environment(path: Path) -> None:
    assert os_uses(_tree(path)) == []


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(DOMAIN_DIR)))
def test_domain_module_never_calls_float(path: Path) -> None:
    assert float_calls(_tree(path)) == []
    assert "float(" not in path.read_text(encoding="utf-8")
