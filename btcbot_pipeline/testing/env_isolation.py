"""Keep a developer's or CI's own bot settings out of tests that read the process environment."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from btcbot_pipeline.settings.names import known_setting_names, looks_like_ours

if TYPE_CHECKING:  # the kit imports without pytest; a test hands in its monkeypatch
    import pytest


def clear_bot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every environment variable that is a setting or looks like one (``SYMBOLS``, ``STAGE7_*``)."""
    known = known_setting_names()
    for name in list(os.environ):
        if name.upper() in known or looks_like_ours(name, known):
            monkeypatch.delenv(name)
