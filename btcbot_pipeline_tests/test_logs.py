"""``LOG_LEVEL``: the ``btcbot`` loggers' level, one stderr handler when nothing else prints, lenient reading."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from btcbot_pipeline.logs import configure_logging, settings_log_level
from btcbot_pipeline.testing.env_isolation import clear_bot_environment


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    """Each test leaves the ``btcbot`` loggers as it found them."""
    root, progress = logging.getLogger("btcbot"), logging.getLogger("btcbot.progress")
    saved = (root.level, list(root.handlers), progress.level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    progress.setLevel(saved[2])


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger("btcbot").handlers if getattr(h, "_btcbot", False)]


@pytest.mark.parametrize("level", ["DEBUG", "info", " Warning ", "ERROR", "CRITICAL"])
def test_the_level_is_set_on_btcbot_and_its_children_follow(level: str) -> None:
    logging.getLogger("btcbot.progress").setLevel(logging.INFO)  # a child with a level of its own

    configure_logging(level)

    expected = getattr(logging, level.strip().upper())
    assert logging.getLogger("btcbot").level == expected
    assert logging.getLogger("btcbot.progress").level == logging.NOTSET
    assert logging.getLogger("btcbot.progress").getEffectiveLevel() == expected
    assert logging.getLogger("btcbot.live.venue").getEffectiveLevel() == expected


def test_other_loggers_are_left_alone() -> None:
    httpx, root = logging.getLogger("httpx"), logging.getLogger()
    before = (httpx.level, root.level)

    configure_logging("DEBUG")

    assert (httpx.level, root.level) == before


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL \(was 'LOUD'\)$"
    ):
        configure_logging("LOUD")


def test_records_reach_stderr_when_nothing_else_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logging.root, "handlers", [])  # a plain terminal: pytest's own handlers out of the way

    configure_logging("WARNING")
    configure_logging("DEBUG")  # again: no second handler
    # (not btcbot.progress: `btcbot backtest` gives it a stdout handler of its own, earlier in a session)
    logging.getLogger("btcbot.live").debug("cycle %s planned", "2026-01-01T00:05")
    logging.getLogger("btcbot").info("armed: no")

    assert len(ours()) == 1
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "DEBUG btcbot.live: cycle 2026-01-01T00:05 planned",
        "INFO btcbot: armed: no",
    ]


def test_a_level_above_filters_records(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logging.root, "handlers", [])

    configure_logging("ERROR")
    logging.getLogger("btcbot.live").warning("not shown")
    logging.getLogger("btcbot.live").error("shown")

    assert [line.split(" ", 2)[2] for line in capsys.readouterr().err.splitlines()] == ["ERROR btcbot.live: shown"]


def test_no_handler_of_ours_when_the_host_handles_records(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("DEBUG")
    logging.getLogger("btcbot.live").debug("to the host")

    assert ours() == []  # pytest's handlers are on the root logger
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [("btcbot.live", "DEBUG", "to the host")]


def test_settings_log_level_reads_the_env_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_bot_environment(monkeypatch)
    env = tmp_path / ".env"
    env.write_text("LOG_LEVEL=debug\n")

    assert settings_log_level(env) == "DEBUG"
    assert settings_log_level(tmp_path / "missing.env") == "INFO"  # the default
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert settings_log_level(env) == "ERROR"  # the environment wins


@pytest.mark.parametrize(
    "text",
    ["LOG_LEVEL=LOUD\n", "TRY_CASH_TARGET=700\nLOG_LEVEL=DEBUG\n", "DRY_RUN=maybe\n"],
)
def test_refused_settings_give_info(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_bot_environment(monkeypatch)
    env = tmp_path / ".env"
    env.write_text(text)

    assert settings_log_level(env) == "INFO"
