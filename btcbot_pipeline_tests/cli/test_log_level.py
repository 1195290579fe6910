"""The ``btcbot`` command sets the ``btcbot`` loggers' level from ``LOG_LEVEL`` at start, leniently."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.cycle_harness import DEMO
from btcbot_pipeline.testing.env_isolation import clear_bot_environment


@pytest.fixture(autouse=True)
def restore(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    clear_bot_environment(monkeypatch)
    root = logging.getLogger("btcbot")
    saved = (root.level, list(root.handlers))
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


def env_file(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in DEMO.items()) + "".join(f"{line}\n" for line in extra))
    return path


def test_log_level_of_the_settings_is_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = env_file(tmp_path, "LOG_LEVEL=debug")

    assert main(["settings", "--env-file", str(env)]) == 0

    assert logging.getLogger("btcbot").level == logging.DEBUG
    assert logging.getLogger("btcbot.progress").getEffectiveLevel() == logging.DEBUG
    assert [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("LOG_LEVEL ")] == [
        ["LOG_LEVEL", "DEBUG"]
    ]


def test_the_default_is_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--env-file", str(env_file(tmp_path))]) == 0

    assert logging.getLogger("btcbot").level == logging.INFO


def test_refused_settings_give_info_and_the_command_reports_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = env_file(tmp_path, "LOG_LEVEL=LOUD")
    logging.getLogger("btcbot").setLevel(logging.ERROR)

    assert main(["settings", "--env-file", str(env)]) == 2

    assert logging.getLogger("btcbot").level == logging.INFO
    assert capsys.readouterr().err.startswith("SettingsError: ")


def test_a_command_without_env_file_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("LOG_LEVEL", "WARNING")

    assert main(["replay-validate", "--dataset", str(tmp_path / "nope")]) == 1

    assert logging.getLogger("btcbot").level == logging.WARNING
