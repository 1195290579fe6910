"""The test kit (``btcbot_pipeline/testing/``) stays out of the bot: no module of the package
imports it but the CLI's ``fake-btcturk`` command, the kit never imports the tests, and
every kit module imports without pytest (the fixtures built on it are in conftest)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from btcbot_pipeline_tests.domain.test_import_graph import PACKAGE, all_imports, module_files

KIT = f"{PACKAGE}.testing"
CLI = f"{PACKAGE}.cli"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` names in an import, wherever it is (functions and ``TYPE_CHECKING`` too),
    with ``from pkg import name`` also counted as ``pkg.name``."""
    names: set[str] = set()
    for node in all_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        else:
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def kit_users() -> dict[str, set[str]]:
    """Module outside the kit → the kit modules it imports."""
    files = module_files()
    kit = {m for m in files if _inside(m, KIT)}
    out: dict[str, set[str]] = {}
    for module, path in files.items():
        if module in kit:
            continue
        used = imported_modules(path) & kit
        if used:
            out[module] = used
    return out


def test_only_the_fake_btcturk_command_imports_the_kit() -> None:
    users = kit_users()
    assert {m for m in users if not _inside(m, CLI)} == set(), users
    assert users == {"btcbot_pipeline.cli.ops": {"btcbot_pipeline.testing.fake_btcturk"}}


def test_the_kit_never_imports_the_tests() -> None:
    kit = {m: p for m, p in module_files().items() if _inside(m, KIT)}
    assert len(kit) >= 9
    offenders = {
        m: sorted(n for n in imported_modules(p) if _inside(n, "btcbot_pipeline_tests")) for m, p in kit.items()
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_import_rule_sees_a_deferred_import(tmp_path: Path) -> None:
    # The check reads imports inside functions too: that is where a command would hide one.
    path = tmp_path / "mod.py"
    path.write_text("def run():\n    from btcbot_pipeline.testing import builders\n")
    assert {"btcbot_pipeline.testing", "btcbot_pipeline.testing.builders"} <= imported_modules(path)


def test_every_kit_module_imports_without_pytest() -> None:
    kit = sorted(m for m in module_files() if _inside(m, KIT))
    code = (
        "import importlib, sys\n"
        "sys.modules['pytest'] = None\n"  # `import pytest` now raises ImportError
        f"for name in {kit!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in ('pytest', '_pytest', "
        "'btcbot_pipeline_tests')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
