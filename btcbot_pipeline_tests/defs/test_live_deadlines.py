"""A live-source cycle through Dagster against an exchange that drips its answers: the
cycle's reads end at ``btcturk_cycle_deadline_s``, the pairs are skipped as
``exchange_error:deadline`` and the cycle runs OBSERVE_ONLY instead of hanging (issue 15)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btcbot_pipeline.defs.cycle.resources import BtcturkMarketData
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle, failure_text
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, PAIRS

KEY = CYCLE.strftime("%Y-%m-%dT%H:%M")


@dataclass
class SlowExchangeCycle(Cycle):
    url: str = ""

    def resources(self) -> dict[str, Any]:
        resources = super().resources()
        resources["market_data"] = BtcturkMarketData(
            btcturk_base_url=self.url,
            btcturk_graph_base_url=self.url,
            btcturk_timeout_s=5.0,
            btcturk_call_deadline_s=5.0,
            btcturk_cycle_deadline_s=0.6,
            btcturk_retry_attempts=2,
            btcturk_retry_base_delay_s=0.001,
            symbols=sorted(PAIRS),
        )
        return resources


def test_a_dripping_exchange_costs_the_cycle_its_deadline_and_runs_it_observe_only(
    fake_cycle_market: FakeBtcturk, tmp_path: Path, replay_dir: Path
) -> None:
    fake_cycle_market.inject(
        "/api/v2/orderbook", "drip", times=-1, delay_s=0.05
    )  # a byte per 0.05 s: no read times out
    cycle = SlowExchangeCycle(
        db=tmp_path / "live.duckdb", dataset=replay_dir, overrides=dict(DEMO), url=fake_cycle_market.url
    )
    start = time.monotonic()

    result = cycle.run(KEY)

    took = time.monotonic() - start
    assert result.success, failure_text(result)
    assert cycle.rows("SELECT symbol, tradable, skip_reason FROM market_snapshot ORDER BY symbol") == [
        ("BTCTRY", False, "exchange_error:deadline"),
        ("ETHTRY", False, "exchange_error:deadline"),
    ]
    assert cycle.rows("SELECT source, degraded_reason FROM market_cycles") == [("btcturk", "exchange_unreachable")]
    assert cycle.rows("SELECT final_mode FROM cycle_trace") == [("OBSERVE_ONLY",)]
    assert "market_data_degraded:exchange_unreachable" in json.dumps(cycle.rows("SELECT mode_json FROM cycle_trace"))
    # BTCTRY's book was cut when the cycle's 0.6 s ran out; ETHTRY's was never asked for
    assert fake_cycle_market.count("/api/v2/orderbook") == 1
    # Dagster, the gates and the book take most of it; without the deadlines the two books'
    # 129 bytes at 0.05 s each would take 2 × 2 attempts × 6.5 s = 26 s
    assert took < 15.0
