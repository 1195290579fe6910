"""The deadline and body-cap settings (issue 15): defaults, refused values, and the same
defaults in every place that builds a client without the settings at hand."""

from __future__ import annotations

import re

import pytest

from btcbot_pipeline.adapters.btcturk.client import ClientConfig
from btcbot_pipeline.adapters.webhook import WebhookPoster
from btcbot_pipeline.defs.cycle.resources import BtcturkMarketData
from btcbot_pipeline.settings import SettingsError, load_settings
from btcbot_pipeline.testing.env_isolation import clear_bot_environment


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_bot_environment(monkeypatch)


def test_defaults() -> None:
    settings = load_settings(None)

    assert (
        settings.btcturk_call_deadline_sec,
        settings.btcturk_cycle_deadline_sec,
        settings.btcturk_max_body_bytes,
    ) == (20.0, 120.0, 8_388_608)
    assert (settings.alert_webhook_deadline_sec, settings.alert_webhook_max_body_bytes) == (10.0, 65_536)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BTCTURK_CALL_DEADLINE_SEC", "0", "BTCTURK_CALL_DEADLINE_SEC: Input should be greater than 0 (was '0')"),
        (
            "BTCTURK_CALL_DEADLINE_SEC",
            "601",
            "BTCTURK_CALL_DEADLINE_SEC: Input should be less than or equal to 600 (was '601')",
        ),
        (
            "BTCTURK_CYCLE_DEADLINE_SEC",
            "3601",
            "BTCTURK_CYCLE_DEADLINE_SEC: Input should be less than or equal to 3600 (was '3601')",
        ),
        # below 64 KiB a ticker of every pair would not fit
        (
            "BTCTURK_MAX_BODY_BYTES",
            "1000",
            "BTCTURK_MAX_BODY_BYTES: Input should be greater than or equal to 65536 (was '1000')",
        ),
        (
            "BTCTURK_MAX_BODY_BYTES",
            "8MB",
            "BTCTURK_MAX_BODY_BYTES: Input should be a valid integer, unable to parse string as an integer (was '8MB')",
        ),
        ("ALERT_WEBHOOK_DEADLINE_SEC", "-1", "ALERT_WEBHOOK_DEADLINE_SEC: Input should be greater than 0 (was '-1')"),
        (
            "ALERT_WEBHOOK_MAX_BODY_BYTES",
            "100000000",
            "ALERT_WEBHOOK_MAX_BODY_BYTES: Input should be less than or equal to 16777216 (was '100000000')",
        ),
    ],
)
def test_values_that_bound_nothing_are_refused(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(None, **{variable: value})


def test_builders_without_the_settings_use_the_settings_defaults() -> None:
    # ClientConfig (cli.py, account.py), the Dagster resource and the webhook poster are
    # also built where the new settings are not passed yet: their defaults are the same.
    settings = load_settings(None)
    resource = BtcturkMarketData()
    poster = WebhookPoster("https://hooks.test/x")

    assert (ClientConfig().call_deadline_s, ClientConfig().max_body_bytes) == (
        settings.btcturk_call_deadline_sec,
        settings.btcturk_max_body_bytes,
    )
    assert (resource.btcturk_call_deadline_s, resource.btcturk_cycle_deadline_s, resource.btcturk_max_body_bytes) == (
        settings.btcturk_call_deadline_sec,
        settings.btcturk_cycle_deadline_sec,
        settings.btcturk_max_body_bytes,
    )
    assert (poster.limits.deadline_s, poster.limits.max_body_bytes) == (
        settings.alert_webhook_deadline_sec,
        settings.alert_webhook_max_body_bytes,
    )
    poster.close()
