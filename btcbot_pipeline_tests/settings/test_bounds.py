"""Settings refuse, at load, amounts and names the book or the cycle could not hold."""

from __future__ import annotations

import re

import pytest

from btcbot_pipeline.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DRY_RUN_TRY_BALANCE",
            "1e25",
            "DRY_RUN_TRY_BALANCE: must be at most 1000000000000000 TRY (1e15, the bound the book "
            "can store with room for gains, see domain/bounds.py) (was '1e25')",
        ),
        (
            "MAX_POSITION_NOTIONAL_TRY",
            "1000000000000000.01",
            "MAX_POSITION_NOTIONAL_TRY: must be at most 1000000000000000 TRY",
        ),
        (
            "STAGE7_RULES_FALLBACK_TICK_SIZE",
            "1e-30",
            "STAGE7_RULES_FALLBACK_TICK_SIZE: must be within [1e-18, 1e12] "
            "(a grid the book can store at 18 decimals) (was '1e-30')",
        ),
        ("STAGE7_RULES_FALLBACK_LOT_SIZE", "1e13", "STAGE7_RULES_FALLBACK_LOT_SIZE: must be within [1e-18, 1e12]"),
    ],
)
def test_amounts_the_book_cannot_store_are_refused_naming_the_bound(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(None, **{variable: value})


def test_the_largest_storable_balance_is_accepted() -> None:
    assert str(load_settings(None, DRY_RUN_TRY_BALANCE="1000000000000000").dry_run_try_balance) == "1000000000000000"


@pytest.mark.parametrize("name", ["ETH:TRY", "ETH TRY", "ETH'TRY", "ÉTHTRY"])
def test_whitelist_names_follow_the_one_pair_name_rule(name: str) -> None:
    with pytest.raises(
        SettingsError, match=re.escape(f"STAGE7_UNIVERSE_WHITELIST: {name!r} is not a pair symbol such as BTCTRY")
    ):
        load_settings(None, STAGE7_UNIVERSE_WHITELIST=f"BTCTRY,{name}")


def test_separators_in_whitelist_names_are_dropped() -> None:
    assert load_settings(None, STAGE7_UNIVERSE_WHITELIST="btc-try,ETH/TRY,xrp_try").stage7_universe_whitelist == (
        "BTCTRY",
        "ETHTRY",
        "XRPTRY",
    )
