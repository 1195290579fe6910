"""``btcbot health``: exit 0 healthy, 1 degraded, 2 unusable, against the fake BTCTurk on
127.0.0.1 (healthy, clock-skewed, stale, closed port, dripping, oversize) and against replay datasets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.health import probe_symbol
from btcbot_pipeline.testing.env_isolation import clear_bot_environment
from btcbot_pipeline.testing.fake_btcturk import (
    FAKE_API_KEY,
    FAKE_API_SECRET,
    FakeBtcturk,
    FakeMarket,
)
from btcbot_pipeline.testing.fake_btcturk_setup import cycle_market

PROBES = ["server_time", "exchangeinfo", "ticker", "orderbook", "candles", "balances"]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_bot_environment(monkeypatch)


@pytest.fixture
def demo() -> Iterator[FakeBtcturk]:
    """The fake exchange's live-stamped demo market (BTCTRY, USDTTRY), data stamped now."""
    with FakeBtcturk(FakeMarket.demo()) as fake:
        yield fake


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on leaving: connections are refused


def live_env(tmp_path: Path, url: str, *extra: str) -> Path:
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(
            [
                "MARKET_DATA_SOURCE=btcturk",
                f"BTCTURK_BASE_URL={url}",
                f"BTCTURK_GRAPH_BASE_URL={url}",
                "BTCTURK_TIMEOUT_SEC=2",
                *extra,
            ]
        )
        + "\n"
    )
    return env


def health(capsys: pytest.CaptureFixture[str], env: Path, *args: str) -> tuple[int, str]:
    code = main(["health", "--env-file", str(env), *args])
    return code, capsys.readouterr().out


def statuses(out: str) -> dict[str, str]:
    rows = [line.split() for line in out.splitlines()[2:-1] if not line.startswith(" ")]
    return {row[0]: row[1] for row in rows}


def test_the_fake_exchange_is_healthy_exit_0(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    code, out = health(capsys, live_env(tmp_path, demo.url))

    assert code == 0, out
    assert out.splitlines()[0] == f"health of the btcturk source at {demo.url}"
    assert statuses(out) == {
        "server_time": "PASS",
        "exchangeinfo": "PASS",
        "ticker": "PASS",
        "orderbook": "PASS",
        "candles": "PASS",
        "balances": "SKIP",
    }
    assert "2 pairs, 2 trading in TRY" in out
    # the probed pair is the largest TRY pair by quote volume:
    # BTCTRY 25.31 × 3844648 ≈ 97.3 M > USDTTRY 1250000 × 41.515 ≈ 51.9 M
    assert "BTCTRY bid 3842925 ask 3844704 (spread 4.63 bps), 0 s old" in out
    assert out.splitlines()[-1] == "health: healthy (exit 0)"
    assert demo.count("/api/v2/server/time") == 1 and demo.count("/api/v2/orderbook") == 1


def test_the_whitelist_picks_the_probed_pair(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    code, out = health(capsys, live_env(tmp_path, demo.url, "STAGE7_UNIVERSE_WHITELIST=usdt_try"))

    assert code == 0, out
    assert "USDTTRY bid 41.512 ask 41.518 (spread 1.45 bps), 0 s old" in out


def test_a_skewed_exchange_clock_is_degraded_exit_1(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    demo.clock_offset_ms = 10_000  # the exchange's clock runs 10 s ahead of ours

    code, out = health(capsys, live_env(tmp_path, demo.url), "--json")

    report = json.loads(out)
    assert code == 1 and report["exit_code"] == 1 and report["status"] == "degraded"
    assert [p["name"] for p in report["probes"]] == PROBES
    server = report["probes"][0]
    assert server["status"] == "WARN" and server["detail"].startswith("clock skew: exchange clock ")
    # measured against the midpoint of the call: 10 s give or take the round trip
    assert 9_000 < server["values"]["skew_ms"] < 11_000 and server["values"]["max_skew_ms"] == 2000
    assert server["fix"].startswith("sync this machine's clock")
    # ages are judged on the exchange's clock, so its fresh data is not stale
    assert [p["status"] for p in report["probes"][1:]] == ["PASS", "PASS", "PASS", "PASS", "SKIP"]


def test_a_larger_skew_limit_accepts_the_skew(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    demo.clock_offset_ms = 10_000

    code, out = health(capsys, live_env(tmp_path, demo.url), "--max-skew-ms", "60000")

    assert code == 0, out


def test_stale_exchange_data_is_degraded_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with FakeBtcturk(cycle_market()) as fake:  # stamped 2026-01-01T00:59:30Z, long before now
        code, out = health(capsys, live_env(tmp_path, fake.url))

    assert code == 1, out
    status = statuses(out)
    assert status["ticker"] == "WARN" and status["orderbook"] == "WARN" and status["candles"] == "WARN"
    assert "stale data: 2 pairs (2 in TRY); BTCTRY last 3844648" in out
    assert "(limit STAGE7_MAX_DATA_AGE_SEC=60)" in out
    assert "fix: cycles skip BTCTRY (stale_data) while its book is not updating" in out


def test_an_unreachable_exchange_is_unusable_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    code, out = health(capsys, live_env(tmp_path, url))

    assert code == 2
    assert out.splitlines()[2].split()[:2] == ["server_time", "FAIL"]
    assert f"exchange unreachable: ConnectError for url '{url}/api/v2/server/time'" in out
    assert (
        f"fix: check that BTCTURK_BASE_URL={url} is reachable from this machine (network, proxy, firewall), "
        "or set MARKET_DATA_SOURCE=replay"
    ) in out
    assert out.splitlines()[-1] == "health: unusable (exit 2)"


def test_credentials_read_balances_and_are_never_printed(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    env = live_env(tmp_path, demo.url, f"BTCTURK_API_KEY={FAKE_API_KEY}", f"BTCTURK_API_SECRET={FAKE_API_SECRET}")

    code, out = health(capsys, env)
    json_code, json_out = health(capsys, env, "--json")

    assert code == 0 and json_code == 0, out
    assert statuses(out)["balances"] == "PASS"
    assert "2 assets, 2 held (TRY held); amounts not shown" in out
    for text in (out, json_out):
        assert FAKE_API_KEY not in text and FAKE_API_SECRET not in text
    assert demo.count("/api/v1/users/balances") == 2


def test_refused_credentials_are_degraded_and_not_printed(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    wrong = "d3Jvbmctc2VjcmV0"  # base64 of b"wrong-secret": signs, but not with the fake's secret
    env = live_env(tmp_path, demo.url, f"BTCTURK_API_KEY={FAKE_API_KEY}", f"BTCTURK_API_SECRET={wrong}")

    code, out = health(capsys, env)

    assert code == 1, out
    assert statuses(out)["balances"] == "WARN"
    assert "balances read failed: Auth error '401 Unauthorized'" in out
    assert "fix: check BTCTURK_API_KEY and BTCTURK_API_SECRET" in out
    assert wrong not in out and FAKE_API_KEY not in out


def test_a_good_replay_dataset_is_healthy(capsys: pytest.CaptureFixture[str], replay_dir: Path, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"REPLAY_DATASET_PATH={replay_dir}\nCYCLE_PARTITIONS_START=2026-01-01T00:00\n")

    code, out = health(capsys, env)

    assert code == 0, out
    assert statuses(out) == {"dataset": "PASS", "coverage": "PASS"}
    assert "12 symbols, no issues" in out
    assert "books 2026-01-01T00:00 … 2026-01-01T02:59 UTC; partitions from 2026-01-01T00:00" in out


def test_partitions_without_data_are_unusable_with_the_fix(
    capsys: pytest.CaptureFixture[str], replay_dir: Path, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text(f"REPLAY_DATASET_PATH={replay_dir}\nCYCLE_PARTITIONS_START=2030-01-01T00:00\n")

    code, out = health(capsys, env)

    assert code == 2
    assert statuses(out) == {"dataset": "PASS", "coverage": "FAIL"}
    assert "no cycle partition (2030-01-01T00:00 … open) has data" in out
    assert (
        "fix: set CYCLE_PARTITIONS_START=2026-01-01T00:00 and CYCLE_PARTITIONS_END=2026-01-01T03:00 (the dataset's "
        "span)" in out
    )


def test_a_missing_dataset_is_unusable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"REPLAY_DATASET_PATH={tmp_path / 'nowhere'}\n")

    code, out = health(capsys, env)

    assert code == 2
    assert statuses(out) == {"dataset": "FAIL"}
    assert "dataset_missing" in out


def test_refused_settings_are_unusable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("TRY_CASH_TARGET=700\n")

    code, out = health(capsys, env, "--json")

    report = json.loads(out)
    assert code == 2 and report["status"] == "unusable"
    assert [(p["name"], p["status"]) for p in report["probes"]] == [("settings", "FAIL")]
    assert report["probes"][0]["detail"].startswith("TRY_CASH_MAX: must be >= TRY_CASH_TARGET")


@pytest.mark.parametrize(
    ("whitelist", "blacklist", "expected"),
    [
        ((), (), ("USDTTRY", False)),  # the largest pair
        (("BTCTRY",), (), ("BTCTRY", True)),  # the first whitelisted listed pair
        (("BTCTRYY", "BTCTRY"), (), ("BTCTRY", True)),  # a typo is passed over
        (("BTCTRYY",), (), ("USDTTRY", False)),  # nothing whitelisted is listed
        ((), ("USDTTRY",), ("BTCTRY", False)),  # the blacklist is respected
        ((), ("USDTTRY", "BTCTRY"), (None, False)),  # nothing left
    ],
)
def test_probe_symbol(
    whitelist: tuple[str, ...], blacklist: tuple[str, ...], expected: tuple[str | None, bool]
) -> None:
    assert probe_symbol(whitelist, blacklist, ("USDTTRY", "BTCTRY")) == expected


def test_a_failing_ticker_is_unusable_and_ends_the_probes(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    demo.inject("/api/v2/ticker", "503", times=-1)

    code, out = health(capsys, live_env(tmp_path, demo.url))

    assert code == 2
    assert statuses(out) == {"server_time": "PASS", "exchangeinfo": "PASS", "ticker": "FAIL"}
    assert (
        f"ticker unusable: Server error '503 Service Unavailable' for url '{demo.url}/api/v2/ticker' "
        "(SERVICE_UNAVAILABLE)" in out
    )
    assert "fix: a cycle without the ticker runs OBSERVE_ONLY; retry later" in out
    assert demo.count("/api/v2/ticker") == 2  # two attempts, then the probe reports


def test_an_exchange_dripping_its_answers_is_unusable_within_the_call_deadline(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    demo.inject("*", "drip", times=-1, delay_s=0.2)  # every answer a byte per 0.2 s: no read ever times out
    start = time.monotonic()

    code, out = health(capsys, live_env(tmp_path, demo.url, "BTCTURK_CALL_DEADLINE_SEC=0.4"))

    # two attempts of 0.4 s and the 0.1-0.2 s backoff between them, then the probes stop
    # (loading the settings and building the clients is the rest); the server time's
    # 77 bytes alone would otherwise take 15 s per attempt
    assert time.monotonic() - start < 2 * 0.4 + 0.2 + 1.0
    assert code == 2
    assert statuses(out) == {"server_time": "FAIL"}
    assert f"exchange unreachable: deadline of 0.4 s exceeded for url '{demo.url}/api/v2/server/time'" in out
    assert "it answers, but too slowly: a call must end within BTCTURK_CALL_DEADLINE_SEC" in out
    assert demo.count("/api/v2/server/time") == 2


def test_an_oversize_answer_is_refused_unread_with_the_cap_named(
    capsys: pytest.CaptureFixture[str], demo: FakeBtcturk, tmp_path: Path
) -> None:
    demo.inject("/api/v2/server/exchangeinfo", "oversize", times=-1)  # 100 MiB, chunked

    code, out = health(capsys, live_env(tmp_path, demo.url, "BTCTURK_MAX_BODY_BYTES=65536"), "--json")

    report = json.loads(out)
    probe = {p["name"]: p for p in report["probes"]}["exchangeinfo"]
    assert code == 2 and probe["status"] == "FAIL"
    assert (
        probe["detail"]
        == f"exchangeinfo unusable: response larger than 65536 bytes for url '{demo.url}/api/v2/server/exchangeinfo'"
    )
    assert probe["fix"].startswith("the exchange sent a body over BTCTURK_MAX_BODY_BYTES")
    assert demo.count("/api/v2/server/exchangeinfo") == 1  # not retried: it would send the same
