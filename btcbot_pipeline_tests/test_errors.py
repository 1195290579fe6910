"""One root for the project's own errors, which ``btcbot`` catches in one place: one line on
stderr, exit 2, whatever the command."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import btcbot_pipeline
from btcbot_pipeline.cli import main, ops
from btcbot_pipeline.errors import BtcbotError

PACKAGE_DIR = Path(btcbot_pipeline.__file__).parent


def _classes_on_exception() -> list[str]:
    """``module.Class`` of every public class in the package written as ``class X(Exception)``
    (a private one is a module's own control-flow signal, never seen outside it)."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ClassDef)
                and not node.name.startswith("_")
                and any(isinstance(b, ast.Name) and b.id == "Exception" for b in node.bases)
            ):
                found.append(
                    f"{path.relative_to(PACKAGE_DIR.parent).with_suffix('').as_posix().replace('/', '.')}.{node.name}"
                )
    return found


def test_every_error_of_ours_descends_from_one_root() -> None:
    assert _classes_on_exception() == ["btcbot_pipeline.errors.BtcbotError"]
    for name in (
        "adapters.btcturk.capture.CaptureError",
        "adapters.btcturk.errors.BtcturkError",
        "adapters.replay.dataset.ReplayDatasetError",
        "adapters.replay.importer_source.ReplayImportError",
        "defs.backtest.spec.SpecError",
        "reporting.errors.ReportingError",
        "reporting.cycle_summary.ReportError",
        "settings.loading.SettingsError",
        "storage.book.BookError",
        "engine.EngineError",
        "domain.ledger.LedgerIntegrityError",
        "adapters.bounded.ResponseLimitError",
    ):
        module, cls = f"btcbot_pipeline.{name}".rsplit(".", 1)
        assert issubclass(getattr(importlib.import_module(module), cls), BtcbotError), name


def test_the_cli_prints_any_of_ours_as_one_line_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from btcbot_pipeline.engine import ChainError

    def refuse(args: object) -> int:
        raise ChainError("the book holds cycles after the window")

    monkeypatch.setattr(ops, "_settings", refuse)

    assert main(["settings"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "ChainError: the book holds cycles after the window\n")


def test_an_error_not_ours_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(ops, "_settings", broken)

    with pytest.raises(KeyError):
        main(["settings"])
