"""``replay-capture`` against the fake exchange: a dataset replay-validate accepts and a
range materialization replays."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.btcturk.capture import CaptureError, capture_replay_dataset
from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient
from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle, failure_text
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeMarket
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, PAIRS, cycle_market, fast_config

START = CYCLE - timedelta(seconds=30)


class SteppingMarket:
    """Clock and sleep for the capture: each poll interval moves time on and re-stamps the
    fake's ticker and book (the bid moves one unit per poll), so 11 polls give 11 rows."""

    def __init__(self, fake: FakeBtcturk) -> None:
        self.fake, self.now, self.polls = fake, START, 0
        self._stamp()

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.polls += 1
        self._stamp()

    def _stamp(self) -> None:
        for sym, state in self.fake.market.symbols.items():
            ts_ms = int(self.now.timestamp() * 1000)
            state.ticker["timestamp"] = ts_ms
            state.book["timestamp"] = Decimal(ts_ms)
            state.book["bids"][0][0] = str(Decimal(PAIRS[sym][0]) + self.polls)


@pytest.fixture
def fake() -> FakeBtcturk:
    with FakeBtcturk(cycle_market(end=CYCLE + timedelta(minutes=10))) as server:
        yield server


def capture(fake: FakeBtcturk, dataset: Path, minutes: float = 10) -> object:
    stepper = SteppingMarket(fake)
    with BtcturkPublicClient(fast_config(fake.url)) as client:
        return capture_replay_dataset(
            client,
            dataset,
            ["btc_try", "ETHTRY"],
            minutes=minutes,
            poll_interval_s=60,
            clock=stepper.clock,
            sleep=stepper.sleep,
        )


def test_capture_writes_a_valid_dataset_with_manifest(fake: FakeBtcturk, tmp_path: Path) -> None:
    dataset = tmp_path / "captured"
    manifest = capture(fake, dataset)

    report = validate_replay_dataset(dataset)
    assert report.ok, report.format_text()
    saved = json.loads((dataset / "capture_manifest.json").read_text())
    assert saved["symbols"] == ["BTCTRY", "ETHTRY"] and saved["polls"] == 10
    assert saved["source"] == {"kind": "btcturk", "base_url": fake.url, "graph_base_url": fake.url}
    assert (saved["started_at"], saved["ended_at"]) == ("2026-01-01T00:59:30.000Z", "2026-01-01T01:08:30.000Z")
    # 10 polls → 10 book rows; candles: the 40 real bars of the fake that closed by the end
    assert saved["rows"] == {
        "candles/BTCTRY.csv": 38,
        "candles/ETHTRY.csv": 38,
        "orderbook/BTCTRY.csv": 10,
        "orderbook/ETHTRY.csv": 10,
        "ticker/BTCTRY.csv": 10,
        "ticker/ETHTRY.csv": 10,
    }
    for rel, digest in saved["sha256"].items():
        assert hashlib.sha256((dataset / rel).read_bytes()).hexdigest() == digest
    assert manifest.failures == {}
    assert (dataset / "orderbook/BTCTRY.csv").read_text().splitlines()[:2] == [
        "ts,best_bid,best_ask",
        "2026-01-01T00:59:30.000Z,3842920,3844700",
    ]


def test_candles_are_the_exchange_ohlc_not_made_up(fake: FakeBtcturk, tmp_path: Path) -> None:
    capture(fake, tmp_path / "d")
    t, o, h, low, c, v = fake.market.symbols["BTCTRY"].candles[0]
    first = (tmp_path / "d/candles/BTCTRY.csv").read_text().splitlines()[1].split(",")
    assert first == [
        datetime.fromtimestamp(t + 60, tz=CYCLE.tzinfo).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        str(o),
        str(h),
        str(low),
        str(c),
        str(v),
    ]
    assert first[1] != first[4]  # open ≠ close: real bars, not last-price stand-ins


def test_captured_dataset_replays_over_a_range(fake: FakeBtcturk, tmp_path: Path) -> None:
    dataset = tmp_path / "captured"
    capture(fake, dataset)
    cycle = Cycle(db=tmp_path / "book.duckdb", dataset=dataset, overrides=dict(DEMO))

    result = cycle.run(first="2026-01-01T01:00", last="2026-01-01T01:05")

    assert result.success, failure_text(result)
    assert cycle.rows("SELECT count(*) FROM cycle_trace") == [(2,)]
    assert cycle.rows("SELECT count(*) FROM market_snapshot WHERE tradable") == [(4,)]
    assert ReplayDataset.load(dataset).snapshot_at(CYCLE + timedelta(minutes=5)).by_symbol()[
        "BTCTRY"
    ].best_bid == Decimal("3842925")


def test_capture_failure_is_recorded_and_skipped(fake: FakeBtcturk, tmp_path: Path) -> None:
    fake.inject("/api/v2/orderbook", "503", times=4)  # exhausts the 4 attempts of the first book call
    manifest = capture(fake, tmp_path / "d", minutes=2)
    assert manifest.failures == {"orderbook": 1}
    assert manifest.rows["orderbook/BTCTRY.csv"] == 1 and manifest.rows["orderbook/ETHTRY.csv"] == 2


def test_capture_with_the_exchange_down_says_so(fake: FakeBtcturk, tmp_path: Path) -> None:
    fake.inject("*", "down", times=-1)
    with pytest.raises(CaptureError, match="no order book could be captured for BTCTRY, ETHTRY"):
        capture(fake, tmp_path / "d", minutes=1)


def test_cli_capture_then_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeBtcturk(FakeMarket.demo()) as server:
        monkeypatch.setenv("BTCTURK_BASE_URL", server.url)
        monkeypatch.setenv("BTCTURK_GRAPH_BASE_URL", server.url)
        code = main(
            [
                "replay-capture",
                "--dataset",
                str(tmp_path / "d"),
                "--symbols",
                "BTCTRY,USDTTRY",
                "--minutes",
                "0",
                "--history-minutes",
                "30",
                "--env-file",
                str(tmp_path / "none.env"),
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0].startswith(f"captured BTCTRY, USDTTRY from {server.url} (")
    assert "  candles/BTCTRY.csv: 30 rows" in out or "  candles/BTCTRY.csv: 29 rows" in out
    assert main(["replay-validate", "--dataset", str(tmp_path / "d")]) == 0


def test_cli_capture_unreachable_is_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeBtcturk(FakeMarket.demo()) as server:
        server.inject("*", "down", times=-1)
        monkeypatch.setenv("BTCTURK_BASE_URL", server.url)
        monkeypatch.setenv("BTCTURK_GRAPH_BASE_URL", server.url)
        monkeypatch.setattr(
            "btcbot_pipeline.adapters.btcturk.client.RetryPolicy", lambda: RetryPolicy(base_delay_s=0.001, seed=1)
        )
        code = main(
            [
                "replay-capture",
                "--dataset",
                str(tmp_path / "d"),
                "--symbols",
                "BTCTRY",
                "--minutes",
                "0",
                "--env-file",
                str(tmp_path / "none.env"),
            ]
        )
    assert code == 2
    assert (
        capsys.readouterr().err
        == "CaptureError: no order book could be captured for BTCTRY (orderbook: 1 failed, ticker: 1 failed)\n"
    )


def test_cli_fake_btcturk_serves_until_its_time_is_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-btcturk", "--port", "0", "--seconds", "0.05"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("fake BTCTurk on http://127.0.0.1:") and first.endswith(
        "(live-stamped demo market); Ctrl-C stops it"
    )
