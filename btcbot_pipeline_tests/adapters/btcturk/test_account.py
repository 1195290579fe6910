"""Opening balances: exchange balances (read-only) with credentials, DRY_RUN_TRY_BALANCE without."""

from __future__ import annotations

from decimal import Decimal

from pydantic import SecretStr

from btcbot_pipeline.adapters.btcturk.account import AccountOpening, opening_for_book
from btcbot_pipeline.domain.account import (
    DryRunOpening,
    opening_from_balances,
    opening_from_dry_run,
    opening_metadata,
)
from btcbot_pipeline.domain.ledger import Holding
from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot
from btcbot_pipeline.settings import load_settings
from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET, FakeBtcturk
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, fast_config

LIVE = MarketSnapshot(
    CYCLE, (SymbolSnapshot("BTCTRY", best_bid=Decimal("100"), best_ask=Decimal("102")),), source="btcturk"
)


def test_opening_from_balances_worked_example() -> None:
    # TRY 500 cash; 2 BTC at mark (100 + 102) / 2 = 101 → cost 202; XRP has no mark → left out
    opening = opening_from_balances(
        {"TRY": Decimal("500"), "BTC": Decimal("2"), "XRP": Decimal("10"), "ETH": Decimal("0")},
        {"BTCTRY": Decimal("101")},
    )
    assert opening.state.cash_try == Decimal("500")
    assert dict(opening.state.holdings) == {"BTCTRY": Holding(qty=Decimal("2"), cost_try=Decimal("202"))}
    assert opening.state.start_capital_try == Decimal("702") == opening.state.peak_equity_try
    assert (opening.source, opening.reason, opening.unpriced) == ("exchange_balances", None, ("XRP",))


def test_without_credentials_dry_run_balance_and_missing_private_data() -> None:
    opening = opening_for_book(
        snapshot=LIVE,
        api_key=None,
        api_secret=None,
        config=fast_config("http://127.0.0.1:9"),
        start_capital_try=Decimal("10000"),
    )
    assert (opening.source, opening.reason, opening.state.cash_try) == (
        "dry_run_try_balance",
        "missing_private_data",
        Decimal("10000"),
    )
    assert opening_metadata(opening) == {
        "opening_source": "dry_run_try_balance",
        "opening_capital_try": "10000",
        "opening_reason": "missing_private_data",
    }


def test_replay_source_never_reads_the_account() -> None:
    replay = MarketSnapshot(CYCLE, source="replay")
    opening = opening_for_book(
        snapshot=replay,
        api_key=SecretStr("k"),
        api_secret=SecretStr("s"),
        config=fast_config("http://127.0.0.1:9"),
        start_capital_try=Decimal("1000"),
    )
    assert (opening.source, opening.reason) == ("dry_run_try_balance", None)


def test_with_credentials_balances_from_the_fake_exchange(fake_btcturk: FakeBtcturk) -> None:
    opening = opening_for_book(
        snapshot=LIVE,
        api_key=SecretStr(FAKE_API_KEY),
        api_secret=SecretStr(FAKE_API_SECRET),
        config=fast_config(fake_btcturk.url),
        start_capital_try=Decimal("10000"),
    )
    # recorded balances: TRY 103158.9412490031968651, BTC 29.6027353 at mark 101
    assert opening.source == "exchange_balances"
    assert opening.state.cash_try == Decimal("103158.9412490031968651")
    assert opening.state.holdings["BTCTRY"].cost_try == Decimal("29.6027353000000000") * 101
    assert fake_btcturk.requests.count(("GET", "/api/v1/users/balances")) == 1
    assert not any(method in ("POST", "DELETE") for method, _ in fake_btcturk.requests)


def test_rejected_credentials_fall_back_with_the_reason(fake_btcturk: FakeBtcturk) -> None:
    opening = opening_for_book(
        snapshot=LIVE,
        api_key=SecretStr(FAKE_API_KEY),
        api_secret=SecretStr("d3Jvbmc="),
        config=fast_config(fake_btcturk.url),
        start_capital_try=Decimal("10000"),
    )
    assert (opening.source, opening.reason) == ("dry_run_try_balance", "private_data_unavailable:AuthError")


def test_the_two_opening_providers() -> None:
    # The engine is handed one of these (OpeningBalances): a replay's opens with the dry-run
    # cash whatever the snapshot; the BTCTurk account's asks the exchange (here: no credentials).
    settings = load_settings(None, DRY_RUN_TRY_BALANCE="2500", BTCTURK_BASE_URL="http://127.0.0.1:9")
    dry, account = DryRunOpening(Decimal("2500")), AccountOpening(settings)
    assert dry(LIVE) == opening_from_dry_run(Decimal("2500"), None)
    assert account(LIVE) == opening_from_dry_run(Decimal("2500"), "missing_private_data")
    assert account(MarketSnapshot(CYCLE, source="replay")) == opening_from_dry_run(Decimal("2500"), None)
