"""``btcbot live-cycle`` as the README's canary steps run it: the pilot profile against the fake
BTCTurk on 127.0.0.1; first with the kill switch on (recorded, nothing sent), then off (the
canary's orders go out once; a rerun of the cycle sends nothing again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.env_isolation import clear_bot_environment
from btcbot_pipeline.testing.fake_btcturk import FAKE_API_SECRET, FakeBtcturk
from btcbot_pipeline_tests.cli.pilot import pilot_env


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_bot_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # the pilot's data/ paths land here


def live_cycle(capsys: pytest.CaptureFixture[str], env: Path, *args: str) -> tuple[int, str]:
    code = main(["live-cycle", "--env-file", str(env), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_canary_steps_from_the_kill_switch_to_one_live_cycle(
    capsys: pytest.CaptureFixture[str],
    exchange: FakeBtcturk,
    tmp_path: Path,
) -> None:
    orders = exchange.market.orders
    code, out = live_cycle(capsys, pilot_env(tmp_path, exchange))
    assert code == 0, out
    assert (
        "arm  KILL_SWITCH=true               CLOSED" in out
        and "mode            base NORMAL → final OBSERVE_ONLY" in out
    )
    assert orders.submissions == []

    armed = pilot_env(tmp_path, exchange, KILL_SWITCH="false")
    code, out = live_cycle(capsys, armed)
    assert code == 0, out
    sent = [s.client_id for s in orders.submissions]
    assert sent and all(s.accepted for s in orders.submissions)
    assert "orders          " in out

    code, out = live_cycle(capsys, armed)  # the same cycle again: found on the exchange, not resent
    assert code == 0, out
    assert [s.client_id for s in orders.submissions] == sent
    assert FAKE_API_SECRET not in out
    assert (tmp_path / "data" / "btcbot_live.duckdb").exists()


def test_a_failed_preflight_exits_1_and_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    exchange: FakeBtcturk,
    tmp_path: Path,
) -> None:
    code, out = live_cycle(capsys, pilot_env(tmp_path, exchange, KILL_SWITCH="false", MAX_OPEN_ORDERS=""))
    assert code == 1
    assert "the live cycle failed: live preflight failed, nothing was read or sent:" in out
    assert "FAIL  cap MAX_OPEN_ORDERS" in out
    assert exchange.market.orders.submissions == []
