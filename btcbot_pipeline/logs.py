"""The ``btcbot`` loggers' level, from ``LOG_LEVEL``.

Every logger of this bot is ``btcbot`` or under it (``btcbot.progress``, ...).
:func:`configure_logging` sets the level of ``btcbot``, and sets any ``btcbot.*`` logger
that has a level of its own back to ``NOTSET``, so the whole tree follows one setting.
Other libraries' loggers (``httpx``, ``dagster``) and the root logger are left alone:
``LOG_LEVEL=DEBUG`` never turns on a client library's request logging.

So that the level is visible from a plain terminal, records of ``btcbot`` reach stderr
through one handler of ours, added once, and only when nothing else would print them (no
handler on the root logger). Under a host that already handles records (pytest, a Dagster
run configured with ``python_logs``), records propagate there as before. The handler looks
up ``sys.stderr`` at each record, so a replaced stream (a test's capture) is never kept.

:func:`settings_log_level` reads ``LOG_LEVEL`` for the ``btcbot`` CLI leniently: refused
settings give ``INFO`` (the command itself reports the refusal).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

ROOT_LOGGER = "btcbot"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LEVEL = "INFO"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler writing to whatever ``sys.stderr`` is when a record arrives."""

    _btcbot = True

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it; ours is looked up
        pass


def configure_logging(level: str) -> None:
    """Set the ``btcbot`` loggers to ``level`` (``DEBUG`` … ``CRITICAL``, any case).

    Idempotent: calling it again changes the level and adds no second handler.

    Raises:
        ValueError: ``level`` is not one of :data:`LEVELS`.
    """
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LEVELS)} (was {level!r})")
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(name)
    for child_name, child in list(logging.root.manager.loggerDict.items()):
        if child_name.startswith(ROOT_LOGGER + ".") and isinstance(child, logging.Logger):
            child.setLevel(logging.NOTSET)
    ours = [h for h in logger.handlers if getattr(h, "_btcbot", False)]
    if not ours and not logging.root.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)


def settings_log_level(env_file: str | os.PathLike[str] | None = ".env") -> str:
    """``LOG_LEVEL`` from the settings (environment, then ``env_file``), or ``INFO`` when
    the settings are refused or cannot be read; never raises."""
    try:
        from btcbot_pipeline.settings import load_settings

        return str(load_settings(env_file).log_level)
    except Exception:  # a refused or unreadable configuration: the command reports it itself
        return DEFAULT_LEVEL


def configure_cli_logging(env_file: str | os.PathLike[str] | None = ".env") -> None:
    """The ``btcbot`` CLI's start: :func:`configure_logging` from :func:`settings_log_level`."""
    configure_logging(settings_log_level(env_file))
