"""``btcbot preflight --profile live`` as the README runs it: the pilot profile
(``.env.pilot.example`` with credentials filled in) against the fake BTCTurk on 127.0.0.1,
exit 0 armed, 1 a check failed (the kill switch: armed except it), 2 settings refused or
an unknown profile; one line per problem, never a traceback, never a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.settings.names import known_setting_names, looks_like_ours
from btcbot_pipeline.testing.env_isolation import clear_bot_environment
from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET, FakeBtcturk
from btcbot_pipeline_tests.cli.pilot import pilot_env

SAFE_STATE = (
    "the pilot's safe state: live cycles run and record, nothing is placed or cancelled; "
    "set KILL_SWITCH=false for a controlled canary run"
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_bot_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # the pilot's data/ paths land here


def preflight(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["preflight", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_the_pilot_profile_is_armed_except_the_kill_switch_exit_1(
    capsys: pytest.CaptureFixture[str], exchange: FakeBtcturk, tmp_path: Path
) -> None:
    code, out, err = preflight(capsys, "--profile", "live", "--env-file", str(pilot_env(tmp_path, exchange)))

    assert code == 1, out
    assert out[:4] == [
        "arm  DRY_RUN=false                  OPEN",
        "arm  KILL_SWITCH=true               CLOSED",
        "arm  LIVE_TRADING=true              OPEN",
        "arm  LIVE_TRADING_ACK=I_UNDERSTAND  OPEN",
    ]
    assert [line for line in out if line.startswith("FAIL")] == [
        f"FAIL  gate KILL_SWITCH: KILL_SWITCH=true (armed except the kill switch, {SAFE_STATE})"
    ]
    assert [line.split(":")[0] for line in out if line.startswith("OK    rules")] == [
        "OK    rules BTCTRY",
        "OK    rules ETHTRY",
        "OK    rules USDTTRY",
        "OK    rules XRPTRY",
        "OK    rules AVAXTRY",
    ]
    assert "OK    cap LIVE_CANARY_NOTIONAL_TRY: 200 TRY per live cycle, within NOTIONAL_CAP_TRY_PER_CYCLE=200 " in (
        "\n".join(out)
    )
    assert out[-1] == f"preflight --profile live: armed except the kill switch ({SAFE_STATE}) (exit 1)"
    assert FAKE_API_SECRET not in "\n".join(out) + err and FAKE_API_KEY not in "\n".join(out) + err
    assert not (tmp_path / "data" / "btcbot_live.duckdb").exists()


def test_the_kill_switch_off_is_armed_exit_0(
    capsys: pytest.CaptureFixture[str], exchange: FakeBtcturk, tmp_path: Path
) -> None:
    env = pilot_env(tmp_path, exchange, KILL_SWITCH="false")

    code, out, _ = preflight(capsys, "--env-file", str(env))  # --profile live is the default

    assert code == 0, out
    assert out[1] == "arm  KILL_SWITCH=false              OPEN"
    assert not [line for line in out if line.startswith(("FAIL", "WARN"))]
    assert out[-1] == "preflight --profile live: armed, every check passed (exit 0)"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"BTCTURK_API_KEY": "", "BTCTURK_API_SECRET": ""},
            "BTCTURK_API_KEY, BTCTURK_API_SECRET: LIVE_TRADING=true requires both credentials (was "
            "BTCTURK_API_KEY=unset, BTCTURK_API_SECRET=unset)",
        ),
        (
            {"LIVE_TRADING_ACK": ""},
            "LIVE_TRADING_ACK: LIVE_TRADING=true requires LIVE_TRADING_ACK=I_UNDERSTAND (was unset)",
        ),
        (
            {"DRY_RUN": "true"},
            "LIVE_TRADING: LIVE_TRADING=true cannot be combined with DRY_RUN=true (was DRY_RUN=true)",
        ),
        ({"MAX_OPEN_ORDERS": "many"}, "MAX_OPEN_ORDERS: Input should be a valid integer, unable to parse string as an "
         "integer (was 'many')"),
    ],
)  # fmt: skip
def test_a_refused_profile_is_one_line_per_problem_exit_2(
    capsys: pytest.CaptureFixture[str], exchange: FakeBtcturk, tmp_path: Path, changes: dict[str, str], problem: str
) -> None:
    code, out, err = preflight(capsys, "--profile", "live", "--env-file", str(pilot_env(tmp_path, exchange, **changes)))

    assert code == 2
    assert out == [f"FAIL  settings: {problem}", "preflight --profile live: refused, nothing checked (exit 2)"]
    assert "Traceback" not in err and FAKE_API_SECRET not in err
    assert exchange.requests == []


def test_wrong_credentials_fail_exit_1_without_showing_them(
    capsys: pytest.CaptureFixture[str], exchange: FakeBtcturk, tmp_path: Path
) -> None:
    wrong = "d3Jvbmctc2VjcmV0"
    env = pilot_env(tmp_path, exchange, KILL_SWITCH="false", BTCTURK_API_SECRET=wrong)

    code, out, err = preflight(capsys, "--env-file", str(env))

    assert code == 1
    assert [line for line in out if line.startswith("FAIL")] == [
        "FAIL  balances: the read with these credentials failed: AuthError (Unauthorized - Invalid Request); check "
        "BTCTURK_API_KEY and BTCTURK_API_SECRET, the key's permissions and its IP whitelist"
    ]
    assert wrong not in "\n".join(out) + err


def test_an_unknown_profile_exits_2(capsys: pytest.CaptureFixture[str], exchange: FakeBtcturk, tmp_path: Path) -> None:
    code, out, _ = preflight(capsys, "--profile", "paper", "--env-file", str(pilot_env(tmp_path, exchange)))

    assert (code, out) == (
        2,
        [
            "FAIL  profile: unknown profile 'paper' (known: live)",
            "preflight --profile paper: refused, nothing checked (exit 2)",
        ],
    )


def test_the_installed_command_exits_with_the_report(exchange: FakeBtcturk, tmp_path: Path) -> None:
    btcbot = Path(sys.executable).parent / "btcbot"
    known = known_setting_names()
    env = {k: v for k, v in os.environ.items() if k.upper() not in known and not looks_like_ours(k, known)}
    pilot = pilot_env(tmp_path, exchange, STAGE7_UNIVERSE_WHITELIST="BTCTRYY,ETHTRY")

    done = subprocess.run(
        [str(btcbot), "preflight", "--profile", "live", "--env-file", str(pilot)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert fails == [
        f"FAIL  gate KILL_SWITCH: KILL_SWITCH=true (armed except the kill switch, {SAFE_STATE})",
        "FAIL  rules BTCTRYY: not listed by the exchange (did you mean BTCTRY?); fix STAGE7_UNIVERSE_WHITELIST",
    ]
    assert done.stdout.splitlines()[-1] == (
        "preflight --profile live: 2 check(s) failed: gate KILL_SWITCH, rules BTCTRYY (exit 1)"
    )
    assert "Traceback" not in done.stderr
    assert FAKE_API_SECRET not in done.stdout + done.stderr and FAKE_API_KEY not in done.stdout + done.stderr
