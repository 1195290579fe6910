"""ALERT_REJECT_SPIKE: its default, its bounds, and the thresholds it builds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from btcbot_pipeline.domain.alerts import AlertThresholds
from btcbot_pipeline.settings import SettingsError, load_settings


def test_the_reject_spike_defaults_to_3() -> None:
    settings = load_settings(None)

    assert settings.alert_reject_spike == 3
    assert settings.alert_thresholds() == AlertThresholds(Decimal("0.05"), Decimal("250"), 3)
    assert settings.safe_summary()["ALERT_REJECT_SPIKE"] == "3"


def test_the_reject_spike_is_a_setting() -> None:
    assert load_settings(None, ALERT_REJECT_SPIKE="1").alert_thresholds().reject_spike == 1


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "many"])
def test_a_reject_spike_below_one_or_not_a_count_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=r"ALERT_REJECT_SPIKE"):
        load_settings(None, ALERT_REJECT_SPIKE=value)
