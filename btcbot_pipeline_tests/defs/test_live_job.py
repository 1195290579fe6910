"""The live job end to end against the fake exchange: the same cycle assets on the BTCTurk
venue, into a live book, with the ledger identities, the chain and the gates of the
simulation; preflight first, the arm state first in the log; no secret anywhere."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from btcbot_pipeline.live_definitions import build_live_definitions
from btcbot_pipeline.settings import load_settings
from btcbot_pipeline.storage.verify import verify_book
from btcbot_pipeline.testing.cycle_harness import DEMO, failure_text
from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET, FakeBtcturk
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, PAIRS, candles_for, cycle_market

D = Decimal
KEY = CYCLE.strftime("%Y-%m-%dT%H:%M")
NEXT = CYCLE + timedelta(minutes=5)
KEY2 = NEXT.strftime("%Y-%m-%dT%H:%M")


def armed(url: str, book: Path, **extra: str) -> dict[str, str]:
    return {
        **DEMO,
        "STAGE7_ENABLED": "false",
        "DRY_RUN": "false",
        "KILL_SWITCH": "false",
        "LIVE_TRADING": "true",
        "LIVE_TRADING_ACK": "I_UNDERSTAND",
        "BTCTURK_API_KEY": FAKE_API_KEY,
        "BTCTURK_API_SECRET": FAKE_API_SECRET,
        "BTCTURK_BASE_URL": url,
        "BTCTURK_GRAPH_BASE_URL": url,
        "MARKET_DATA_SOURCE": "btcturk",
        "STAGE7_UNIVERSE_WHITELIST": ",".join(sorted(PAIRS)),
        "MAX_OPEN_ORDERS": "4",
        "MAX_OPEN_ORDERS_PER_SYMBOL": "1",
        "LIVE_CANARY_NOTIONAL_TRY": "5000",
        "LIVE_STATE_DB_PATH": str(book),
        "STATE_DB_PATH": str(book.parent / "dry.duckdb"),
        **extra,
    }


def run_live(
    overrides: dict[str, str], key: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    defs = build_live_definitions(load_settings(None, **overrides), env_file=None, overrides=overrides)
    job = defs.get_job_def("live_cycle_job")
    if instance is not None:
        return job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
    # disposed after the run: an ephemeral instance left to the garbage collector stays
    # Dagster's current defs-state storage, and a later Definitions load then fails on it
    with dg.DagsterInstance.ephemeral() as ephemeral:
        return job.execute_in_process(partition_key=key, instance=ephemeral, raise_on_error=False)


def user_logs(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    """The run's own log lines (context.log), in order."""
    return [e.user_message for e in instance.all_logs(result.run_id) if not e.is_dagster_event]


def rows(book: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(book), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def fake() -> FakeBtcturk:
    market = cycle_market().enable_trading(balances={"TRY": D("10000")}, fee_bps=D("10"))
    market.clock_ms = int(CYCLE.timestamp() * 1000)
    with FakeBtcturk(market) as server:
        yield server


def move_to_next_cycle(fake: FakeBtcturk, factor: Decimal) -> None:
    """The market five minutes on, every pair's book moved by ``factor`` (resting BUYs fill on a drop)."""
    market = fake.market
    market.clock_ms = int(NEXT.timestamp() * 1000)
    stamp = int((NEXT - timedelta(seconds=30)).timestamp() * 1000)
    for sym, (bid, ask, last, high, low, vol, pct, tick, base) in PAIRS.items():
        market.set_symbol(
            sym,
            ts_ms=stamp,
            bid=(D(bid) * factor).quantize(D(tick)),
            ask=(D(ask) * factor).quantize(D(tick)),
            last=D(last) * factor,
            high=D(high),
            low=D(low) * factor,
            volume=D(vol),
            daily_percent=D(pct),
            tick_size=tick,
            candles=candles_for(base, NEXT),
        )


def test_two_live_cycles_submit_fill_and_account_with_the_simulations_identities(
    fake: FakeBtcturk, tmp_path: Path
) -> None:
    book = tmp_path / "live.duckdb"
    overrides = armed(fake.url, book)
    first = run_live(overrides, KEY)
    assert first.success, failure_text(first)
    engine = fake.market.orders
    placed = sorted((s.client_id, s.accepted) for s in engine.submissions)
    assert placed and all(accepted for _, accepted in placed)
    assert rows(book, "SELECT kind FROM book_info") == [("live",)]

    move_to_next_cycle(fake, D("0.97"))
    second = run_live(overrides, KEY2)
    assert second.success, failure_text(second)
    # every client order id went out exactly once across both cycles
    ids = [s.client_id for s in engine.submissions]
    assert len(ids) == len(set(ids))
    fills = rows(book, "SELECT fill_id, symbol, side, qty, fill_price_try, fee_try FROM fills ORDER BY fill_id")
    trades = sorted((str(t.id), t.numerator + t.denominator) for t in engine.trades)
    assert [(f[0], f[1]) for f in fills] == trades and trades
    assert verify_book(duckdb.connect(str(book), read_only=True)).errors() == []
    # the ledger holds the account's numbers: cash = 10,000 − what the fills cost
    cash = rows(book, "SELECT cash_try FROM ledger_metrics ORDER BY cycle_ts")[-1][0]
    spent = sum((D(str(q)) * D(str(p)) + D(str(fee)) for _, _, _, q, p, fee in fills), D(0))
    assert D(str(cash)) == D("10000") - spent == engine.balances["TRY"]
    (ledger,) = [
        m for m in second.get_asset_materialization_events() if m.asset_key.to_user_string() == "live/ledger_snapshot"
    ]
    meta = {k: v.value for k, v in ledger.materialization.metadata.items()}
    assert (meta["realized_today_try"], meta["realized_day_start_baseline_try"]) == ("0", "0")


def test_a_rerun_of_the_same_cycle_never_submits_twice(fake: FakeBtcturk, tmp_path: Path) -> None:
    book = tmp_path / "live.duckdb"
    overrides = armed(fake.url, book)
    assert run_live(overrides, KEY).success
    sent = len(fake.market.orders.submissions)
    Path(book).unlink()  # the book lost (a crash before the record): the rerun starts over
    rerun = run_live(overrides, KEY)
    assert rerun.success, failure_text(rerun)
    assert len(fake.market.orders.submissions) == sent
    events = rows(book, "SELECT event_type, reason FROM order_events WHERE reason LIKE 'adopted:%'")
    assert len(events) == sent


def test_with_the_kill_switch_on_the_live_cycle_records_and_sends_nothing(fake: FakeBtcturk, tmp_path: Path) -> None:
    book = tmp_path / "live.duckdb"
    result = run_live(armed(fake.url, book, KILL_SWITCH="true"), KEY)
    assert result.success, failure_text(result)
    assert fake.market.orders.submissions == []
    assert rows(book, "SELECT final_mode FROM cycle_trace") == [("OBSERVE_ONLY",)]
    assert rows(book, "SELECT count(*) FROM ledger_metrics") == [(1,)]


def test_a_resting_order_survives_the_kill_switch(fake: FakeBtcturk, tmp_path: Path) -> None:
    book = tmp_path / "live.duckdb"
    assert run_live(armed(fake.url, book), KEY).success
    engine = fake.market.orders
    resting = sorted(o.id for o in engine.open_orders())
    assert resting
    move_to_next_cycle(fake, D("1.05"))  # the market leaves the BUYs behind: normally replaced
    killed = run_live(armed(fake.url, book, KILL_SWITCH="true"), KEY2)
    assert killed.success, failure_text(killed)
    assert sorted(o.id for o in engine.open_orders()) == resting and len(engine.submissions) == len(resting)
    assert rows(book, "SELECT count(*) FROM order_events WHERE cycle_ts = ?", [NEXT.replace(tzinfo=None)]) == [(0,)]
    assert rows(book, "SELECT final_mode FROM cycle_trace ORDER BY cycle_ts") == [("NORMAL",), ("OBSERVE_ONLY",)]


def test_the_live_run_refuses_to_start_when_preflight_fails_and_logs_the_arm_state_first(
    fake: FakeBtcturk, tmp_path: Path
) -> None:
    book = tmp_path / "live.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    result = run_live(armed(fake.url, book, MAX_OPEN_ORDERS=""), KEY, instance)
    assert not result.success
    assert "live preflight failed" in failure_text(result) and "MAX_OPEN_ORDERS" in failure_text(result)
    assert fake.market.orders.submissions == []
    assert fake.count("/api/v1/openorders") == 0  # nothing read either
    assert [" ".join(line.split()) for line in user_logs(instance, result)[:4]] == [
        "arm DRY_RUN=false OPEN",
        "arm KILL_SWITCH=false OPEN",
        "arm LIVE_TRADING=true OPEN",
        "arm LIVE_TRADING_ACK=I_UNDERSTAND OPEN",
    ]
    assert not book.exists()


def test_no_secret_reaches_the_book_or_the_run_log(fake: FakeBtcturk, tmp_path: Path) -> None:
    book = tmp_path / "live.duckdb"
    result = run_live(armed(fake.url, book, LOG_LEVEL="DEBUG"), KEY)
    assert result.success, failure_text(result)
    text = "\n".join(str(e) for e in result.all_events)
    assert FAKE_API_SECRET not in text
    with duckdb.connect(str(book), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            dump = str(con.execute(f'SELECT * FROM "{table}"').fetchall())
            assert FAKE_API_SECRET not in dump, table
