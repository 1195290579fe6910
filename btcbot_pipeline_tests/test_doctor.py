"""``btcbot doctor`` on a good and on a broken setup: the table, the fixes, the exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.doctor import FAIL, PASS, WARN, Check, universe_checks
from btcbot_pipeline.testing.cycle_harness import DEMO
from btcbot_pipeline.testing.env_isolation import clear_bot_environment
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeMarket
from btcbot_pipeline_tests.test_health import closed_port


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clear_bot_environment(monkeypatch)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in DEMO.items()))
    return path


def doctor(capsys: pytest.CaptureFixture[str], env: Path, dataset: Path, db: Path) -> tuple[int, str]:
    code = main(["doctor", "--dataset", str(dataset), "--db", str(db), "--env-file", str(env)])
    return code, capsys.readouterr().out


def status(out: str, check: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith(check + " "))
    return line.split()[1]


def test_a_good_setup_passes_with_exit_0(
    capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path
) -> None:
    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 0, out
    assert out.splitlines()[0].split() == ["CHECK", "STATUS", "DETAIL"]
    for check in (
        "settings/load",
        "settings/stage7_enabled",
        "settings/names",
        "dataset/replay-validate",
        "dataset/market_snapshot_gate",
        "universe/candidates",
        "storage/book",
        "storage/dagster_home",
        "rules/BTCTRY",
    ):
        assert status(out, check) == "PASS", check
    assert "fix:" not in out
    assert (
        "12 candidate(s): ADATRY, AVAXTRY, BTCTRY, DOGETRY, DOTTRY, ETHTRY, LINKTRY, LTCTRY, SOLTRY, TRXTRY, USDTTRY, "
        "XRPTRY (every TRY pair of the dataset, no whitelist)"
    ) in out
    assert out.splitlines()[-1] == "doctor: 20 pass, 0 warn, 0 fail → PASS"
    assert not (tmp_path / "book.duckdb").exists()  # the doctor creates nothing


def test_warnings_only_exit_1(
    capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME")
    env.write_text(
        env.read_text().replace("KILL_SWITCH=false", "KILL_SWITCH=true") + "STAGE7_MAX_DAILY_LOSS_TRY=10000\n"
    )

    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 1
    assert status(out, "settings/kill_switch") == "WARN" and status(out, "storage/dagster_home") == "WARN"
    assert (
        "KILL_SWITCH=true: cycles run and record plan, trace and accounting; no order is placed or cancelled; "
        "resting orders stay"
    ) in out
    assert "fix: set KILL_SWITCH=false to let cycles place and cancel orders" in out
    assert status(out, "settings/risk_budget") == "WARN"  # 10000 >= the 10000 capital: can never trip
    assert "fix: export DAGSTER_HOME=$PWD/dagster_home" in out


def _broken(replay_dir: Path, tmp_path: Path) -> Path:
    ds = tmp_path / "broken"
    shutil.copytree(replay_dir, ds)
    book = ds / "orderbook" / "BTCTRY.csv"
    lines = book.read_text().splitlines()
    ts, bid, ask = lines[5].split(",")
    lines[5] = f"{ts},{ask},{bid}"  # a crossed book row
    book.write_text("\n".join(lines) + "\n")
    info = json.loads((ds / "exchangeinfo.json").read_text())
    info["data"]["symbols"] = info["data"]["symbols"][:4]  # 8 of 12 symbols without rules
    (ds / "exchangeinfo.json").write_text(json.dumps(info))
    # 7 of 12 books go silent after the first 10 minutes: stale at the later cycle times,
    # more than STAGE7_MAX_EXCLUDED_SHARE (0.5) of the candidates excluded for data faults.
    # (Symbols without rules are excluded too but do not count: exchangeinfo is optional.)
    for path in sorted((ds / "orderbook").glob("*.csv"))[5:]:
        path.write_text("\n".join(path.read_text().splitlines()[:11]) + "\n")
    return ds


def test_a_broken_dataset_fails_with_exit_2_and_fixes(
    capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path
) -> None:
    code, out = doctor(capsys, env, _broken(replay_dir, tmp_path), tmp_path / "book.duckdb")

    assert code == 2, out
    assert status(out, "dataset/replay-validate") == "FAIL"
    assert "crossed_book" in out and "fix: run `btcbot replay-validate --dataset" in out
    gate = next(line for line in out.splitlines() if line.startswith("dataset/market_snapshot_gate"))
    assert "FAIL" in gate and "excluded_share_ok (expect_column_values_to_be_in_set, observed " in gate
    assert status(out, "rules/XRPTRY") == "WARN" and "missing: no exchange metadata for symbol" in out
    assert out.splitlines()[-1].endswith("→ FAIL")


def test_a_book_locked_by_another_writer_fails(
    capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "book.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        code, out = doctor(capsys, env, replay_dir, db)
    finally:
        holder.kill()
        holder.wait()

    assert code == 2
    line = next(line for line in out.splitlines() if line.startswith("storage/book"))
    assert "FAIL" in line and "lock" in line.lower()
    assert "fix: stop the process holding the book" in out


def test_invalid_settings_fail_the_settings_check(
    capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path
) -> None:
    env.write_text(env.read_text() + "TRY_CASH_TARGET=700\n")

    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 2
    assert status(out, "settings/load") == "FAIL"
    assert "TRY_CASH_MAX: must be >= TRY_CASH_TARGET" in out


def test_a_whitelist_typo_is_rejected_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path
) -> None:
    env.write_text(env.read_text() + "STAGE7_UNIVERSE_WHITELIST=BTCTRYY,ETHTRY\n")

    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 1, out
    assert status(out, "universe/candidates") == "WARN"
    assert (
        "1 candidate(s): ETHTRY (STAGE7_UNIVERSE_WHITELIST); rejected: BTCTRYY not listed by the dataset "
        "(did you mean BTCTRY?)"
    ) in out
    assert "fix: set STAGE7_UNIVERSE_WHITELIST=ETHTRY,BTCTRY" in out


# --- the live source: no dataset checks, the exchange probed instead ----------------------


def live(env: Path, url: str, *extra: str) -> None:
    env.write_text(
        env.read_text()
        + "\n".join(
            [
                "MARKET_DATA_SOURCE=btcturk",
                f"BTCTURK_BASE_URL={url}",
                f"BTCTURK_GRAPH_BASE_URL={url}",
                "BTCTURK_TIMEOUT_SEC=2",
                f"REPLAY_DATASET_PATH={env.parent / 'no-dataset'}",
                *extra,
            ]
        )
        + "\n"
    )


def live_doctor(capsys: pytest.CaptureFixture[str], env: Path, db: Path) -> tuple[int, str]:
    code = main(["doctor", "--db", str(db), "--env-file", str(env)])
    return code, capsys.readouterr().out


def test_live_source_against_the_fake_exchange_passes(
    capsys: pytest.CaptureFixture[str], env: Path, tmp_path: Path
) -> None:
    with FakeBtcturk(FakeMarket.demo()) as fake:
        live(env, fake.url)
        code, out = live_doctor(capsys, env, tmp_path / "book.duckdb")

    assert code == 0, out
    rows = [line.split()[:2] for line in out.splitlines()[1:-1] if not line.startswith(" ")]
    assert rows == [
        ["settings/load", PASS],
        ["settings/stage7_enabled", PASS],
        ["settings/names", PASS],
        ["dataset/not", "used"],
        ["exchange/server_time", PASS],
        ["exchange/exchangeinfo", PASS],
        ["exchange/ticker", PASS],
        ["exchange/orderbook", PASS],
        ["exchange/candles", PASS],
        ["exchange/balances", "SKIP"],
        ["universe/candidates", PASS],
        ["storage/book", PASS],
        ["storage/dagster_home", PASS],
        ["rules/BTCTRY", PASS],
        ["rules/USDTTRY", PASS],
    ]
    assert (
        f"MARKET_DATA_SOURCE=btcturk: the replay dataset {tmp_path / 'no-dataset'} is not read, so not checked" in out
    )
    assert "2 candidate(s): BTCTRY, USDTTRY (every TRY pair of the exchange, no whitelist)" in out
    assert out.splitlines()[-1] == "doctor: 13 pass, 0 warn, 0 fail, 2 skipped → PASS"
    assert not (tmp_path / "book.duckdb").exists()


def test_live_source_unreachable_fails_with_a_fix_line(
    capsys: pytest.CaptureFixture[str], env: Path, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    live(env, url)

    code, out = live_doctor(capsys, env, tmp_path / "book.duckdb")

    assert code == 2
    assert status(out, "exchange/server_time") == "FAIL"
    assert f"exchange unreachable: ConnectError for url '{url}/api/v2/server/time'" in out
    assert (
        f"fix: check that BTCTURK_BASE_URL={url} is reachable from this machine (network, proxy, firewall), or set "
        "MARKET_DATA_SOURCE=replay" in out
    )
    assert "dataset/replay-validate" not in out and "universe/" not in out
    assert out.splitlines()[-1] == "doctor: 5 pass, 0 warn, 1 fail, 1 skipped → FAIL"


def test_a_whitelist_that_selects_nothing_fails(capsys: pytest.CaptureFixture[str], env: Path, tmp_path: Path) -> None:
    with FakeBtcturk(FakeMarket.demo()) as fake:
        live(env, fake.url, "STAGE7_UNIVERSE_WHITELIST=BTCTRYY")
        code, out = live_doctor(capsys, env, tmp_path / "book.duckdb")

    assert code == 2
    assert status(out, "universe/candidates") == "FAIL"
    assert "STAGE7_UNIVERSE_WHITELIST selects nothing: BTCTRYY not listed by the exchange (did you mean BTCTRY?)" in out
    assert "fix: set STAGE7_UNIVERSE_WHITELIST=BTCTRY" in out
    assert status(out, "exchange/ticker") == "WARN"  # health's probe fell back to the largest pair and said so
    assert "rules/" not in out


def test_unknown_and_unsupported_settings_are_warned(
    capsys: pytest.CaptureFixture[str], env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTL_SECONDS", "600")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")  # read now (issue 17): not flagged
    with FakeBtcturk(FakeMarket.demo()) as fake:
        live(env, fake.url, "SYMBOLS=BTCTRY,ETHTRY", "STAGE7_UNIVERSE_SIZ=3")
        code, out = live_doctor(capsys, env, tmp_path / "book.duckdb")

    assert code == 1, out
    # exactly these three: PATH, HOME, DAGSTER_HOME and the rest of the environment are not ours
    assert [line.split()[0] for line in out.splitlines() if line.startswith("settings/unknown:")] == [
        "settings/unknown:SYMBOLS",
        "settings/unknown:STAGE7_UNIVERSE_SIZ",
        "settings/unknown:TTL_SECONDS",
    ]
    assert f"SYMBOLS ({env}) is the original system's setting, not read here" in out
    assert "fix: use STAGE7_UNIVERSE_WHITELIST instead: the universe whitelist, a JSON list or comma separated" in out
    assert f"STAGE7_UNIVERSE_SIZ ({env}) is not a setting of this bot; it is ignored" in out
    assert "fix: did you mean STAGE7_UNIVERSE_SIZE? (otherwise remove it)" in out
    assert "TTL_SECONDS (environment) is the original system's setting, not read here" in out
    assert (
        "fix: use ORDER_TTL_SECONDS instead: open orders expire after it; the limit fill model and live orders rest "
        "across cycles"
    ) in out


# --- the universe screen on literal tables -----------------------------------------------

LISTED = ("BTCTRY", "ETHTRY", "USDTTRY", "BTCUSDT", "XRPTRY")


def test_rejected_whitelist_entries_say_why() -> None:
    checks, candidates = universe_checks(
        whitelist=("ETHTRYY", "BTCUSDT", "XRPTRY", "BTCTRY"),
        blacklist=("XRPTRY",),
        quote="TRY",
        listed=LISTED,
        default=LISTED,
        source="the dataset",
    )

    assert candidates == ["BTCTRY"]
    assert checks == [
        Check(
            "universe",
            "candidates",
            WARN,
            "1 candidate(s): BTCTRY (STAGE7_UNIVERSE_WHITELIST); rejected: ETHTRYY not listed by the dataset (did you "
            "mean ETHTRY?); BTCUSDT not quoted in TRY; XRPTRY also in STAGE7_UNIVERSE_BLACKLIST",
            "set STAGE7_UNIVERSE_WHITELIST=BTCTRY,ETHTRY",
        )
    ]


def test_no_whitelist_takes_the_quote_pairs_minus_the_blacklist_and_flags_a_blacklist_typo() -> None:
    checks, candidates = universe_checks(
        whitelist=(),
        blacklist=("USDTTRY", "XRPTRYY"),
        quote="TRY",
        listed=LISTED,
        default=LISTED,
        source="the exchange",
    )

    # BTCUSDT is not quoted in TRY, USDTTRY is blacklisted; the typo XRPTRYY leaves XRPTRY in
    assert candidates == ["BTCTRY", "ETHTRY", "XRPTRY"]
    assert checks == [
        Check(
            "universe",
            "candidates",
            PASS,
            "3 candidate(s): BTCTRY, ETHTRY, XRPTRY (every TRY pair of the exchange, no whitelist)",
        ),
        Check(
            "universe",
            "blacklist",
            WARN,
            "STAGE7_UNIVERSE_BLACKLIST: XRPTRYY is not listed by the exchange (did you mean XRPTRY?): it excludes "
            "nothing",
            "set STAGE7_UNIVERSE_BLACKLIST=USDTTRY,XRPTRY",
        ),
    ]


def test_a_whitelist_without_any_close_symbol_fails_with_examples() -> None:
    checks, candidates = universe_checks(
        whitelist=("DOGEUSD",), blacklist=(), quote="TRY", listed=LISTED, default=LISTED, source="the dataset"
    )

    assert candidates == []
    assert checks == [
        Check(
            "universe",
            "candidates",
            FAIL,
            "STAGE7_UNIVERSE_WHITELIST selects nothing: DOGEUSD not listed by the dataset",
            "set STAGE7_UNIVERSE_WHITELIST to pairs the dataset lists (e.g. BTCTRY, ETHTRY, USDTTRY, XRPTRY) or leave "
            "it empty for every TRY pair",
        )
    ]
