"""The ``btcturk`` market-data source through the Dagster assets, against the fake exchange.

A cycle materialized from the live source decides exactly what the same cycle decides from
a replay dataset holding the same numbers (captured from the same fake payloads).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btcbot_pipeline.adapters.btcturk.capture import capture_replay_dataset
from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.defs.cycle.resources import BtcturkMarketData
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle, failure_text
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, PAIRS, fast_config

KEY = CYCLE.strftime("%Y-%m-%dT%H:%M")
# Tables holding the cycle's decisions (market_snapshot/market_cycles/cycle_trace also
# record the source, which is the one thing meant to differ).
DECISIONS = (
    "universe_selection",
    "portfolio_plan",
    "plan_actions",
    "order_intents",
    "orders",
    "order_events",
    "fills",
    "ledger_metrics",
    "positions",
)


@dataclass
class LiveCycle(Cycle):
    url: str = ""

    def resources(self) -> dict[str, Any]:
        resources = super().resources()
        resources["market_data"] = BtcturkMarketData(
            btcturk_base_url=self.url,
            btcturk_graph_base_url=self.url,
            btcturk_timeout_s=0.5,
            btcturk_retry_attempts=2,
            btcturk_retry_base_delay_s=0.001,
            symbols=sorted(PAIRS),
        )
        return resources


def capture_at_cycle(fake: FakeBtcturk, dataset: Path) -> None:
    with BtcturkPublicClient(fast_config(fake.url)) as client:
        capture_replay_dataset(
            client, dataset, sorted(PAIRS), minutes=0, poll_interval_s=60, clock=lambda: CYCLE, sleep=lambda s: None
        )


def decisions(cycle: Cycle) -> dict[str, list[tuple]]:
    # (The opening note, where the balance came from, is in the trace only: the live source
    # records that it had no credentials, a replay has nothing to ask. Not a decision.)
    return {t: cycle.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in DECISIONS}


def test_live_cycle_decides_like_a_replay_of_the_same_numbers(fake_cycle_market: FakeBtcturk, tmp_path: Path) -> None:
    dataset = tmp_path / "captured"
    capture_at_cycle(fake_cycle_market, dataset)
    assert validate_replay_dataset(dataset).ok
    live = LiveCycle(db=tmp_path / "live.duckdb", dataset=dataset, overrides=dict(DEMO), url=fake_cycle_market.url)
    replay = Cycle(db=tmp_path / "replay.duckdb", dataset=dataset, overrides=dict(DEMO))

    live_result, replay_result = live.run(KEY), replay.run(KEY)

    assert live_result.success, failure_text(live_result)
    assert replay_result.success, failure_text(replay_result)
    assert live.rows("SELECT DISTINCT source FROM market_snapshot") == [("btcturk",)]
    assert live.rows("SELECT count(*) FROM order_intents")[0][0] >= 1  # a cycle that actually trades
    assert decisions(live) == decisions(replay)
    # same per-symbol numbers too, apart from where they came from
    columns = "symbol, tradable, skip_reason, data_ts, staleness_s"
    assert live.rows(f"SELECT {columns} FROM market_snapshot ORDER BY symbol") == replay.rows(
        f"SELECT {columns} FROM market_snapshot ORDER BY symbol"
    )


def test_unreachable_exchange_runs_the_cycle_observe_only(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    fake_cycle_market.inject("*", "down", times=-1)
    live = LiveCycle(db=tmp_path / "live.duckdb", dataset=replay_dir, overrides=dict(DEMO), url=fake_cycle_market.url)

    result = live.run(KEY)

    assert result.success, failure_text(result)
    assert live.rows("SELECT source, degraded_reason FROM market_cycles") == [("btcturk", "exchange_unreachable")]
    (mode_json,) = live.rows("SELECT mode_json FROM cycle_trace")[0]
    mode = json.loads(mode_json)
    assert live.rows("SELECT final_mode FROM cycle_trace") == [("OBSERVE_ONLY",)]
    assert "market_data_degraded:exchange_unreachable" in json.dumps(mode)
    assert live.rows("SELECT count(*) FROM order_intents") == [(0,)]


# The only modules that may name the write-capable client: the client itself, the live venue
# (which is handed a factory), the live location's venue resource, and the test kit.
TRADING_MODULES = {"adapters/btcturk/client.py", "adapters/btcturk/venue.py", "defs/live/resources.py"}


def test_pipeline_modules_never_build_a_trading_client() -> None:
    # Structural guard: outside the live location, nothing names the write-capable type.
    root = Path(__file__).resolve().parents[2] / "btcbot_pipeline"
    uses = re.compile(r"BtcturkTradingClient\s*\(|import[^\n]*BtcturkTradingClient|LiveArming\s*\(")
    offenders = [
        rel
        for p in root.rglob("*.py")
        if uses.search(p.read_text(encoding="utf-8"))
        and (rel := p.relative_to(root).as_posix()) not in TRADING_MODULES
        and not rel.startswith("testing/")
    ]
    assert offenders == []
    # and the resource's live source is handed a public client only
    source = (root / "adapters" / "btcturk" / "market.py").read_text(encoding="utf-8")
    assert "BtcturkReadClient" not in source and "Credentials" not in source


def test_new_book_opens_from_exchange_balances_with_credentials(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET

    creds = {
        "BTCTURK_API_KEY": FAKE_API_KEY,
        "BTCTURK_API_SECRET": FAKE_API_SECRET,
        "BTCTURK_BASE_URL": fake_cycle_market.url,
        "BTCTURK_GRAPH_BASE_URL": fake_cycle_market.url,
    }
    # Small holdings: the recorded sample (29.6 BTC) is far over MAX_POSITION_NOTIONAL_TRY.
    fake_cycle_market.market.balances = [
        {"asset": "TRY", "assetname": "Türk Lirası", "balance": "2000.50", "locked": "0", "free": "2000.50"},
        {"asset": "BTC", "assetname": "Bitcoin", "balance": "0.001", "locked": "0", "free": "0.001"},
    ]
    live = LiveCycle(
        db=tmp_path / "live.duckdb", dataset=replay_dir, overrides={**DEMO, **creds}, url=fake_cycle_market.url
    )

    result = live.run(KEY)

    assert result.success, failure_text(result)
    (ledger,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "ledger_snapshot"
    ]
    meta = ledger.materialization.metadata
    assert meta["opening_source"].value == "exchange_balances"
    # TRY 2000.50 + 0.001 BTC at mark (3842920 + 3844700) / 2 = 3843810 → 3843.81
    assert meta["opening_capital_try"].value == "5844.310"
    assert fake_cycle_market.count("/api/v1/users/balances") == 1
    assert not any(method in ("POST", "DELETE") for method, _ in fake_cycle_market.requests)
    for secret in (FAKE_API_SECRET,):
        assert secret not in json.dumps({k: str(v.value) for k, v in meta.items()})


def test_new_book_without_credentials_records_missing_private_data(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    live = LiveCycle(db=tmp_path / "live.duckdb", dataset=replay_dir, overrides=dict(DEMO), url=fake_cycle_market.url)

    result = live.run(KEY)

    assert result.success, failure_text(result)
    (ledger,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "ledger_snapshot"
    ]
    meta = ledger.materialization.metadata
    assert (meta["opening_source"].value, meta["opening_reason"].value) == (
        "dry_run_try_balance",
        "missing_private_data",
    )
    (trace_ledger,) = live.rows("SELECT ledger_metrics_json FROM cycle_trace")
    assert json.loads(trace_ledger[0])["opening"] == {
        "opening_capital_try": "10000",
        "opening_reason": "missing_private_data",
        "opening_source": "dry_run_try_balance",
    }


def test_transient_faults_in_a_cycle_are_retried_without_duplicate_rows(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    fake_cycle_market.inject("/api/v2/orderbook", "503", times=1)
    fake_cycle_market.inject("/v1/klines/history", "429", times=1, retry_after=1)
    fake_cycle_market.inject("/api/v2/ticker", "malformed", times=1)
    live = LiveCycle(db=tmp_path / "live.duckdb", dataset=replay_dir, overrides=dict(DEMO), url=fake_cycle_market.url)

    first = live.run(KEY)
    again = live.run(KEY)  # re-materializing replaces the window's rows

    assert first.success and again.success, failure_text(first) + failure_text(again)
    assert live.rows("SELECT symbol, tradable FROM market_snapshot ORDER BY symbol") == [
        ("BTCTRY", True),
        ("ETHTRY", True),
    ]
    assert live.rows("SELECT source, degraded_reason FROM market_cycles") == [("btcturk", None)]
    assert live.rows("SELECT final_mode FROM cycle_trace") == [("NORMAL",)]
    (market,) = [
        m for m in again.get_asset_materialization_events() if m.asset_key.to_user_string() == "market_snapshot"
    ]
    meta = market.materialization.metadata
    assert (meta["source"].value, meta["degraded_cycles"].value) == ("btcturk", 0)
    assert "fetched_at_last_cycle" in meta and "closes" in meta["provenance"].value


def test_settings_select_the_live_source() -> None:
    from btcbot_pipeline.definitions import build_definitions
    from btcbot_pipeline.settings import load_settings

    settings = load_settings(
        None,
        MARKET_DATA_SOURCE="btcturk",
        BTCTURK_BASE_URL="http://127.0.0.1:8765",
        BTCTURK_TIMEOUT_SEC="3",
        STAGE7_UNIVERSE_WHITELIST="BTCTRY,ETHTRY",
    )
    resource = build_definitions(settings, env_file=None).resources["market_data"]
    assert (resource.source, resource.btcturk_base_url, resource.btcturk_timeout_s, resource.symbols) == (
        "btcturk",
        "http://127.0.0.1:8765",
        3.0,
        ["BTCTRY", "ETHTRY"],
    )


def test_one_pair_failing_after_retries_is_skipped_with_its_reason(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    fake_cycle_market.inject("/api/v2/orderbook", "503", times=2)  # both attempts of BTCTRY's book (2 per call here)
    live = LiveCycle(db=tmp_path / "live.duckdb", dataset=replay_dir, overrides=dict(DEMO), url=fake_cycle_market.url)

    result = live.run(KEY)

    assert result.success, failure_text(result)
    assert live.rows("SELECT symbol, tradable, skip_reason FROM market_snapshot ORDER BY symbol") == [
        ("BTCTRY", False, "exchange_error:orderbook"),
        ("ETHTRY", True, None),
    ]
    assert live.rows("SELECT degraded_reason FROM market_cycles") == [(None,)]


def test_a_live_cycle_refuses_a_book_of_replay_cycles(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    replay = Cycle(db=tmp_path / "book.duckdb", dataset=replay_dir, overrides=dict(DEMO))
    assert replay.run("2026-01-01T00:30").success
    live = LiveCycle(db=tmp_path / "book.duckdb", dataset=replay_dir, overrides=dict(DEMO), url=fake_cycle_market.url)

    result = live.run(KEY)

    assert not result.success
    assert (
        "BookKindError: book 'book' is a dry_run book of source replay (source=replay); this run is a dry_run run of "
        "source btcturk (source=btcturk). A book never carries state from a run of another kind: point STATE_DB_PATH "
        "at a new file for this kind of run (e.g. data/btcbot_book_btcturk.duckdb), or move the old book away"
    ) in failure_text(result)
    assert replay.rows("SELECT count(*), max(carried_from) FROM ledger_metrics") == [(1, None)]


def test_the_dry_run_location_never_imports_the_live_venue() -> None:
    # In a fresh interpreter: the dry-run and backtest locations, built, load no live module.
    code = (
        "import sys\n"
        "import btcbot_pipeline.definitions as d, btcbot_pipeline.backtest_definitions\n"
        "from btcbot_pipeline.settings import load_settings\n"
        "d.build_definitions(load_settings(None, STAGE7_ENABLED='true'))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('btcbot_pipeline.adapters.btcturk.venue',"
        " 'btcbot_pipeline.defs.live', 'btcbot_pipeline.live_definitions'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
