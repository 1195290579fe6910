"""The fake BTCTurk over real HTTP on 127.0.0.1, and the fault table of the live source.

Every injected fault ends in a retried success or a recorded degradation, never a raise.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient, BtcturkReadClient
from btcbot_pipeline.adapters.btcturk.errors import AuthError, RateLimitError
from btcbot_pipeline.adapters.btcturk.market import LiveMarketSource
from btcbot_pipeline.adapters.btcturk.signing import Credentials
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeLimits
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, FAKE_CREDENTIALS, PAIRS, fast_config


def test_public_endpoints_serve_the_recorded_payloads(public_client: BtcturkPublicClient) -> None:
    (ticker,) = public_client.tickers()
    assert (ticker.symbol, ticker.last, ticker.timestamp) == ("BTCUSDT", Decimal("36474"), 1643883402008)
    book = public_client.order_book("BTCUSDT")
    assert (book.timestamp, book.best_bid, book.best_ask) == (1643883463379, Decimal("36371"), Decimal("36401"))
    assert public_client.trades("BTCUSDT")[0].tid == "101963779399182809"
    assert public_client.ohlcs("BTCUSDT", start_s=0, end_s=2_000_000_000)[0].close == Decimal("48820.0")
    assert [e["name"] for e in public_client.exchange_info()["symbols"]] == ["BTCTRY", "USDTTRY", "XTZBTC"]


def test_private_reads_are_signed_and_verified(read_client: BtcturkReadClient) -> None:
    assert read_client.balances()[0].balance == Decimal("103158.9412490031968651")
    assert [o.id for o in read_client.open_orders("BTCTRY").bids] == [16071095, 14703840]
    assert read_client.all_orders("BTCTRY")[0].status == "untouched"
    assert read_client.user_trades()[0].orderid == 5111697972


def test_wrong_secret_is_refused_with_401(fake_btcturk: FakeBtcturk) -> None:
    wrong = Credentials(SecretStr("fake-key"), SecretStr("d3Jvbmc="))
    with BtcturkReadClient(wrong, fast_config(fake_btcturk.url)) as client, pytest.raises(AuthError) as info:
        client.balances()
    assert info.value.name == "Unauthorized - Invalid Request"


def test_fake_enforces_quota_with_the_documented_429_body(fake_btcturk: FakeBtcturk) -> None:
    fake_btcturk.limits = FakeLimits(quotas={"/api/v2/ticker": (2, 60.0)})
    url = fake_btcturk.url + "/api/v2/ticker"
    assert [httpx.get(url).status_code for _ in range(2)] == [200, 200]
    response = httpx.get(url)
    body = response.json()
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 60
    assert (body["message"], body["success"], body["code"], body["limit"], body["policy"]) == (
        "TOO_MANY_REQUESTS",
        False,
        429,
        "2",
        "ip",
    )


def test_client_gives_up_on_a_persistent_429_with_rate_limit_error(fake_btcturk: FakeBtcturk) -> None:
    fake_btcturk.inject("/api/v2/ticker", "429", times=-1, retry_after=55)
    with (
        BtcturkPublicClient(fast_config(fake_btcturk.url, attempts=2)) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.tickers()
    assert info.value.retry_after == 55.0


def test_control_endpoint_queues_a_fault(fake_btcturk: FakeBtcturk) -> None:
    response = httpx.post(
        fake_btcturk.url + "/_fake/faults", content=json.dumps({"path": "/api/v2/ticker", "kind": "503"})
    )
    assert response.status_code == 200
    assert httpx.get(fake_btcturk.url + "/api/v2/ticker").status_code == 503
    assert httpx.get(fake_btcturk.url + "/api/v2/ticker").status_code == 200


def test_unknown_fault_kind_is_refused(fake_btcturk: FakeBtcturk) -> None:
    response = httpx.post(fake_btcturk.url + "/_fake/faults", content=json.dumps({"path": "*", "kind": "meteor"}))
    assert response.status_code == 400


# --- the fault table -----------------------------------------------------------------------


def snapshot(fake: FakeBtcturk, *, attempts: int = 4, timeout_s: float = 2.0) -> MarketSnapshot:
    with BtcturkPublicClient(fast_config(fake.url, attempts=attempts, timeout_s=timeout_s)) as client:
        source = LiveMarketSource(client, symbols=tuple(PAIRS))
        return finalize_snapshot(source.snapshot(CYCLE, vol_lookback=20), max_data_age_s=60)


def outcome(snap: MarketSnapshot) -> tuple[str | None, dict[str, str | None]]:
    return snap.degraded_reason, {s.symbol: s.skip_reason for s in snap.symbols}


CLEAN = (None, {"BTCTRY": None, "ETHTRY": None})

FAULT_TABLE = [
    # (name, path, kind, times, expected outcome)
    ("429_retry_after", "/api/v2/ticker", "429", 1, CLEAN),  # retried after Retry-After
    ("500", "/api/v2/orderbook", "500", 1, CLEAN),  # retried
    ("503_stale_book", "/api/v2/orderbook", "503", 2, CLEAN),  # retried twice
    ("timeout", "/v1/klines/history", "timeout", 1, CLEAN),  # read timeout, retried
    ("malformed_json", "/api/v2/ticker", "malformed", 1, CLEAN),  # retried
    ("exchangeinfo_500", "/api/v2/server/exchangeinfo", "500", 1, CLEAN),  # retried
    ("empty_book", "/api/v2/orderbook", "empty_book", 1, (None, {"BTCTRY": "missing_book", "ETHTRY": None})),
    ("crossed_book", "/api/v2/orderbook", "crossed_book", 1, (None, {"BTCTRY": "crossed_book", "ETHTRY": None})),
    (
        "book_503_persistent",
        "/api/v2/orderbook",
        "503",
        -1,
        ("exchange_unreachable", {"BTCTRY": "exchange_error:orderbook", "ETHTRY": "exchange_error:orderbook"}),
    ),
    (
        "klines_500_persistent",
        "/v1/klines/history",
        "500",
        -1,
        ("exchange_unreachable", {"BTCTRY": "exchange_error:klines", "ETHTRY": "exchange_error:klines"}),
    ),
    (
        "ticker_429_persistent",
        "/api/v2/ticker",
        "429",
        -1,
        ("exchange_unreachable", {"BTCTRY": "exchange_unreachable", "ETHTRY": "exchange_unreachable"}),
    ),
    (
        "exchange_down",
        "*",
        "down",
        -1,
        ("exchange_unreachable", {"BTCTRY": "exchange_unreachable", "ETHTRY": "exchange_unreachable"}),
    ),
]


@pytest.mark.parametrize(
    ("path", "kind", "times", "expected"), [row[1:] for row in FAULT_TABLE], ids=[row[0] for row in FAULT_TABLE]
)
def test_fault_table(fake_cycle_market: FakeBtcturk, path: str, kind: str, times: int, expected: object) -> None:
    fake_cycle_market.inject(path, kind, times=times, retry_after=1, delay_s=0.5)
    snap = snapshot(fake_cycle_market, timeout_s=0.2)
    assert outcome(snap) == expected
    assert snap.source == "btcturk" and snap.fetched_at is not None


def test_symbol_that_disappears_stays_with_its_reason(fake_cycle_market: FakeBtcturk) -> None:
    fake_cycle_market.inject("*", "drop_symbol", symbol="ETHTRY")
    assert outcome(snapshot(fake_cycle_market)) == (None, {"BTCTRY": None, "ETHTRY": "symbol_not_listed"})


def test_retried_faults_never_duplicate_a_symbol(fake_cycle_market: FakeBtcturk) -> None:
    fake_cycle_market.inject("/api/v2/orderbook", "503", times=2)
    fake_cycle_market.inject("/api/v2/ticker", "malformed", times=1)
    snap = snapshot(fake_cycle_market)
    assert [s.symbol for s in snap.symbols] == ["BTCTRY", "ETHTRY"]
    assert fake_cycle_market.count("/api/v2/orderbook") == 4  # 2 failures + one per symbol


def test_live_snapshot_numbers_and_provenance(fake_cycle_market: FakeBtcturk) -> None:
    snap = snapshot(fake_cycle_market)
    btc = snap.by_symbol()["BTCTRY"]
    # book stamped CYCLE - 30 s; last candle closes at CYCLE → data_ts is the older, the book
    assert (btc.best_bid, btc.best_ask, btc.last, btc.daily_change_pct) == (
        Decimal("3842920"),
        Decimal("3844700"),
        Decimal("3844648"),
        Decimal("2.24"),
    )
    assert btc.quote_volume_try == Decimal("25.3073659") * Decimal("3844648")
    assert btc.staleness_s == 30 and len(btc.closes) == 21
    assert btc.rules is not None and btc.rules.tick_size == Decimal("10")


def test_live_source_asked_for_a_past_cycle_is_degraded(fake_cycle_market: FakeBtcturk) -> None:
    from datetime import timedelta

    with BtcturkPublicClient(fast_config(fake_cycle_market.url)) as client:
        snap = LiveMarketSource(client, symbols=tuple(PAIRS)).snapshot(CYCLE - timedelta(hours=2), vol_lookback=20)
    assert snap.degraded_reason == "live_data_after_cycle"


def test_no_secret_in_any_log_record_at_debug(fake_btcturk: FakeBtcturk, caplog: pytest.LogCaptureFixture) -> None:
    # httpx/httpcore log every request at DEBUG/INFO; none of it may carry the secret or signature.
    from btcbot_pipeline.testing.fake_btcturk import FAKE_API_SECRET

    caplog.set_level(logging.DEBUG)
    wrong = Credentials(SecretStr("fake-key"), SecretStr("d3Jvbmc="))
    with (
        BtcturkReadClient(FAKE_CREDENTIALS, fast_config(fake_btcturk.url)) as good,
        BtcturkReadClient(wrong, fast_config(fake_btcturk.url)) as bad,
    ):
        good.balances()
        with pytest.raises(AuthError):
            bad.balances()
    assert caplog.records  # the libraries did log
    assert FAKE_API_SECRET not in caplog.text and "d3Jvbmc=" not in caplog.text and "X-Signature" not in caplog.text


def test_clock_drift_is_corrected_from_server_time_once(fake_btcturk: FakeBtcturk) -> None:
    import time

    with BtcturkReadClient(FAKE_CREDENTIALS, fast_config(fake_btcturk.url)) as client:
        client._http.local_ms = lambda: int(time.time() * 1000) - 60_000  # local clock a minute slow
        assert client.balances()[0].asset == "TRY"
        assert 59_000 <= client._http.clock_offset_ms <= 61_000
    assert fake_btcturk.count("/api/v2/server/time") == 1
    assert fake_btcturk.count("/api/v1/users/balances") == 2


def test_the_live_source_gives_each_pair_the_bar_since_the_previous_cycle(fake_cycle_market: FakeBtcturk) -> None:
    # the limit fill model asks for the 1-minute candles closed in (cycle - 5 min, cycle]
    from btcbot_pipeline.testing.fake_btcturk_setup import candles_for

    with BtcturkPublicClient(fast_config(fake_cycle_market.url)) as client:
        with_bars = LiveMarketSource(client, symbols=tuple(PAIRS), bar_s=300).snapshot(CYCLE, vol_lookback=20)
        without = LiveMarketSource(client, symbols=tuple(PAIRS)).snapshot(CYCLE, vol_lookback=20)

    for snap, plain in zip(with_bars.symbols, without.symbols):
        last5 = candles_for(PAIRS[snap.symbol][8], CYCLE)[-5:]  # (t, open, high, low, close, volume)
        assert (snap.bar_low, snap.bar_high, snap.bar_volume) == (
            min(c[3] for c in last5),
            max(c[2] for c in last5),
            sum((c[5] for c in last5), Decimal(0)),
        )
        assert snap.closes == plain.closes and (plain.bar_low, plain.bar_high, plain.bar_volume) == (None, None, None)
