"""``btcbot_pipeline.preflight``: the live profile's checks against the fake BTCTurk on 127.0.0.1:
an armed profile passes; each closed gate, missing or wrong credentials, a skewed clock, a
misspelt whitelist symbol, missing caps and a live book of another kind fail with one clear
line; the live book is only ever read; no secret in any line."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from btcbot_pipeline.preflight import (
    FAIL,
    OK,
    WARN,
    Check,
    arm_state_lines,
    preflight,
    run_preflight,
)
from btcbot_pipeline.settings import BotSettings, load_settings
from btcbot_pipeline.storage.book import SCHEMA_VERSION, Book
from btcbot_pipeline.storage.identity import run_identity
from btcbot_pipeline.testing.env_isolation import clear_bot_environment
from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET, FakeBtcturk, FakeMarket

PILOT = Path(__file__).resolve().parents[1] / ".env.pilot.example"
WRONG_SECRET = "d3Jvbmctc2VjcmV0"  # base64 of b"wrong-secret": signs, but not with the fake's secret
ARMED = {
    "DRY_RUN": "false",
    "KILL_SWITCH": "false",
    "LIVE_TRADING": "true",
    "LIVE_TRADING_ACK": "I_UNDERSTAND",
    "BTCTURK_API_KEY": FAKE_API_KEY,
    "BTCTURK_API_SECRET": FAKE_API_SECRET,
    "MARKET_DATA_SOURCE": "btcturk",
    "STAGE7_UNIVERSE_WHITELIST": "BTCTRY,USDTTRY",
    "MAX_OPEN_ORDERS": "2",
    "MAX_OPEN_ORDERS_PER_SYMBOL": "1",
    "LIVE_CANARY_NOTIONAL_TRY": "200",
    "MAX_POSITION_NOTIONAL_TRY": "200",
    "NOTIONAL_CAP_TRY_PER_CYCLE": "200",
}
ARMED_STATE = [
    "arm  DRY_RUN=false                  OPEN",
    "arm  KILL_SWITCH=false              OPEN",
    "arm  LIVE_TRADING=true              OPEN",
    "arm  LIVE_TRADING_ACK=I_UNDERSTAND  OPEN",
]
SAFE_STATE = (
    "the pilot's safe state: live cycles run and record, nothing is placed or cancelled; "
    "set KILL_SWITCH=false for a controlled canary run"
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_bot_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # the default book paths (data/...) land here, and no stray .env


@pytest.fixture
def demo() -> Iterator[FakeBtcturk]:
    """The fake exchange's live-stamped demo market (BTCTRY, USDTTRY; TRY and BTC held)."""
    with FakeBtcturk(FakeMarket.demo()) as fake:
        yield fake


def settings_for(fake: FakeBtcturk, tmp_path: Path, **overrides: str | None) -> BotSettings:
    values = {
        **ARMED,
        "BTCTURK_BASE_URL": fake.url,
        "BTCTURK_GRAPH_BASE_URL": fake.url,
        "BTCTURK_TIMEOUT_SEC": "2",
        "LIVE_STATE_DB_PATH": str(tmp_path / "live.duckdb"),
        "STATE_DB_PATH": str(tmp_path / "book.duckdb"),
        "BACKTEST_DIR": str(tmp_path / "backtests"),
        **overrides,
    }
    return load_settings(None, **{k: v for k, v in values.items() if v is not None})


def check(settings: BotSettings, **kw: Any) -> Any:
    return preflight(settings, env_file=None, environ={}, **kw)


def statuses(report: Any) -> list[tuple[str, str]]:
    return [(c.status, c.name) for c in report.checks]


def failures(report: Any) -> list[str]:
    return [line for line in report.lines if line.startswith(FAIL)]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_armed_profile_passes_against_the_fake(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path))

    assert report.exit_code == 0 and report.ok and report.startable, report.text()
    assert list(report.arm_state) == ARMED_STATE
    assert statuses(report) == [
        (OK, "gate DRY_RUN"),
        (OK, "gate KILL_SWITCH"),
        (OK, "gate LIVE_TRADING"),
        (OK, "gate LIVE_TRADING_ACK"),
        (OK, "credentials"),
        (OK, "balances"),
        (OK, "clock"),
        (OK, "rules BTCTRY"),
        (OK, "rules USDTTRY"),
        (OK, "cap MAX_OPEN_ORDERS"),
        (OK, "cap MAX_OPEN_ORDERS_PER_SYMBOL"),
        (OK, "cap LIVE_CANARY_NOTIONAL_TRY"),
        (OK, "cap MAX_POSITION_NOTIONAL_TRY"),
        (OK, "book"),
    ]
    lines = report.lines
    assert lines[:6] == [
        "OK    gate DRY_RUN: DRY_RUN=false",
        "OK    gate KILL_SWITCH: KILL_SWITCH=false",
        "OK    gate LIVE_TRADING: LIVE_TRADING=true",
        "OK    gate LIVE_TRADING_ACK: LIVE_TRADING_ACK=I_UNDERSTAND",
        "OK    credentials: BTCTURK_API_KEY=set, BTCTURK_API_SECRET=set (values never shown)",
        "OK    balances: read with these credentials: 2 assets, TRY held (amounts not shown)",
    ]
    assert lines[6].startswith("OK    clock: exchange clock ")
    assert lines[6].endswith(" ms from this machine (WARN beyond ±1000 ms, FAIL beyond ±5000)")
    assert lines[7:] == [
        "OK    rules BTCTRY: TRADING, tick 10, quantity step 0.00000001, min notional 99.91 TRY",
        "OK    rules USDTTRY: TRADING, tick 0.001, quantity step 0.01, min notional 99.91 TRY",
        "OK    cap MAX_OPEN_ORDERS: 2 order(s) resting at once, all symbols together",
        "OK    cap MAX_OPEN_ORDERS_PER_SYMBOL: 1 order(s) resting at once per symbol",
        "OK    cap LIVE_CANARY_NOTIONAL_TRY: 200 TRY per live cycle, within NOTIONAL_CAP_TRY_PER_CYCLE=200 and the "
        "free TRY balance",
        "OK    cap MAX_POSITION_NOTIONAL_TRY: 200 TRY per symbol at most",
        f"OK    book: LIVE_STATE_DB_PATH={tmp_path / 'live.duckdb'} does not exist yet; the first live run creates "
        "it (its folder is writable)",
    ]
    assert report.verdict() == "preflight --profile live: armed, every check passed (exit 0)"
    assert FAKE_API_SECRET not in report.text() and FAKE_API_KEY not in report.text()
    assert not (tmp_path / "live.duckdb").exists()  # preflight never creates the book
    assert demo.count("/api/v1/users/balances") == 1


def test_the_kill_switch_is_one_fail_and_the_pilots_safe_state(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path, KILL_SWITCH="true"))

    assert failures(report) == [
        f"FAIL  gate KILL_SWITCH: KILL_SWITCH=true (armed except the kill switch, {SAFE_STATE})"
    ]
    assert report.exit_code == 1 and not report.ok
    assert report.startable  # a live run may start: it records and places nothing
    assert report.arm_state[1] == "arm  KILL_SWITCH=true               CLOSED"
    assert report.verdict() == f"preflight --profile live: armed except the kill switch ({SAFE_STATE}) (exit 1)"


def test_live_trading_off_is_one_fail_saying_what_to_set(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path, LIVE_TRADING="false"))

    assert failures(report) == [
        "FAIL  gate LIVE_TRADING: LIVE_TRADING=false; set LIVE_TRADING=true (with DRY_RUN=false, "
        "LIVE_TRADING_ACK=I_UNDERSTAND and both credentials)"
    ]
    assert report.exit_code == 1 and not report.startable
    assert report.verdict() == "preflight --profile live: 1 check(s) failed: gate LIVE_TRADING (exit 1)"


def test_dry_run_on_is_a_fail_line_saying_what_to_set(demo: FakeBtcturk, tmp_path: Path) -> None:
    # DRY_RUN=true loads only with LIVE_TRADING=false (else the settings are refused, below).
    report = check(settings_for(demo, tmp_path, DRY_RUN="true", LIVE_TRADING="false"))

    assert failures(report)[0] == (
        "FAIL  gate DRY_RUN: DRY_RUN=true; set DRY_RUN=false to arm live trading (true: simulation only)"
    )
    assert report.failed == ["gate DRY_RUN", "gate LIVE_TRADING"]


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"DRY_RUN": "true"},
            "FAIL  settings: LIVE_TRADING: LIVE_TRADING=true cannot be combined with DRY_RUN=true (was DRY_RUN=true)",
        ),
        (
            {"LIVE_TRADING_ACK": None},
            "FAIL  settings: LIVE_TRADING_ACK: LIVE_TRADING=true requires LIVE_TRADING_ACK=I_UNDERSTAND (was unset)",
        ),
        (
            {"LIVE_TRADING_ACK": "yes"},
            "FAIL  settings: LIVE_TRADING_ACK: LIVE_TRADING=true requires LIVE_TRADING_ACK=I_UNDERSTAND (was 'yes')",
        ),
        (
            {"BTCTURK_API_KEY": None, "BTCTURK_API_SECRET": None},
            "FAIL  settings: BTCTURK_API_KEY, BTCTURK_API_SECRET: LIVE_TRADING=true requires both credentials "
            "(was BTCTURK_API_KEY=unset, BTCTURK_API_SECRET=unset)",
        ),
    ],
)
def test_refused_settings_are_one_line_each_exit_2(overrides: dict[str, str | None], line: str) -> None:
    values = {k: v for k, v in {**ARMED, **overrides}.items() if v is not None}
    report = run_preflight(None, overrides=values)

    assert report.lines == [line]
    assert report.exit_code == 2 and report.refused and not report.startable
    assert report.arm_state == ()
    assert report.verdict() == "preflight --profile live: refused, nothing checked (exit 2)"
    assert FAKE_API_SECRET not in report.text()


def test_settings_changed_past_their_validators_are_refused(demo: FakeBtcturk, tmp_path: Path) -> None:
    # model_copy skips validation: preflight asks the combination rules again.
    settings = settings_for(demo, tmp_path).model_copy(update={"dry_run": True})

    report = check(settings)

    assert report.exit_code == 2
    assert report.lines == [
        "FAIL  settings: LIVE_TRADING: LIVE_TRADING=true cannot be combined with DRY_RUN=true (was DRY_RUN=true)"
    ]


def test_missing_credentials_are_one_line_and_no_balances_read(demo: FakeBtcturk, tmp_path: Path) -> None:
    # Loadable only with LIVE_TRADING=false (else refused, above): that gate fails too.
    settings = settings_for(demo, tmp_path, LIVE_TRADING="false", BTCTURK_API_KEY=None, BTCTURK_API_SECRET=None)

    report = check(settings)

    assert report.failed == ["gate LIVE_TRADING", "credentials"]
    assert failures(report)[1] == (
        "FAIL  credentials: BTCTURK_API_KEY=unset, BTCTURK_API_SECRET=unset; set both (a BTCTurk API key allowed to "
        "trade, this machine's IP whitelisted); balances not read"
    )
    assert "balances" not in [c.name for c in report.checks]
    assert demo.count("/api/v1/users/balances") == 0


def test_wrong_credentials_fail_the_balances_read_without_showing_them(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path, BTCTURK_API_SECRET=WRONG_SECRET))

    assert failures(report) == [
        "FAIL  balances: the read with these credentials failed: AuthError (Unauthorized - Invalid Request); check "
        "BTCTURK_API_KEY and BTCTURK_API_SECRET, the key's permissions and its IP whitelist"
    ]
    assert WRONG_SECRET not in report.text() and FAKE_API_KEY not in report.text()


def test_a_secret_that_is_not_base64_fails_by_name(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path, BTCTURK_API_SECRET="not base64!"))

    assert failures(report) == [
        "FAIL  balances: the read with these credentials failed: CredentialsError: BTCTURK_API_SECRET is not valid "
        "base64; check BTCTURK_API_KEY and BTCTURK_API_SECRET, the key's permissions and its IP whitelist"
    ]
    assert "not base64!" not in report.text()


def test_a_skewed_exchange_clock_fails(demo: FakeBtcturk, tmp_path: Path) -> None:
    demo.clock_offset_ms = 10_000  # the exchange's clock runs 10 s ahead of ours

    report = check(settings_for(demo, tmp_path))

    (line,) = failures(report)
    assert line.startswith("FAIL  clock: exchange clock ")
    assert line.endswith(
        " ms from this machine: BTCTurk refuses signed requests stamped beyond ±5000 ms; sync this machine's clock "
        "(NTP: timedatectl set-ntp true)"
    )
    skew = int(line.split(", ")[1].split(" ms")[0])
    assert 9_000 < skew < 11_000
    # the read client measured the offset once ("Invalid Nonce") and read the balances anyway
    assert ("OK", "balances") in statuses(report)


def test_a_clock_two_seconds_off_warns(demo: FakeBtcturk, tmp_path: Path) -> None:
    demo.clock_offset_ms = -2_500

    report = check(settings_for(demo, tmp_path))

    clock = next(c for c in report.checks if c.name == "clock")
    assert clock.status == WARN and clock.detail.endswith(
        "beyond ±1000 ms (refused beyond ±5000); sync this machine's clock (NTP: timedatectl set-ntp true)"
    )
    assert report.exit_code == 0


def test_a_misspelt_whitelist_symbol_fails_with_a_suggestion(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path, STAGE7_UNIVERSE_WHITELIST="BTCTRYY,USDTTRY,ZZZQQQ"))

    assert failures(report) == [
        "FAIL  rules BTCTRYY: not listed by the exchange (did you mean BTCTRY?); fix STAGE7_UNIVERSE_WHITELIST",
        "FAIL  rules ZZZQQQ: not listed by the exchange; fix STAGE7_UNIVERSE_WHITELIST",
    ]


def test_an_empty_whitelist_warns_that_every_pair_is_the_universe(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path, STAGE7_UNIVERSE_WHITELIST=""))

    assert (
        Check(
            WARN,
            "rules",
            "STAGE7_UNIVERSE_WHITELIST is empty: the live universe would be every TRY pair (the BTCTURK_MAX_SYMBOLS=30 "
            "largest); set a whitelist of a few liquid pairs for a canary",
        )
        in report.checks
    )
    assert report.exit_code == 0
    assert demo.count("/api/v2/server/exchangeinfo") == 0


def test_a_halted_pair_fails(demo: FakeBtcturk, tmp_path: Path) -> None:
    with demo.market.lock:
        for entry in demo.market.exchange_info["symbols"]:
            if entry["name"] == "USDTTRY":
                entry["status"] = "HALTED"

    report = check(settings_for(demo, tmp_path))

    assert failures(report) == [
        "FAIL  rules USDTTRY: invalid metadata: status HALTED: no live order can be placed",
    ]


def test_unset_caps_fail_each_by_name(demo: FakeBtcturk, tmp_path: Path) -> None:
    settings = settings_for(
        demo, tmp_path, MAX_OPEN_ORDERS=None, MAX_OPEN_ORDERS_PER_SYMBOL=None, LIVE_CANARY_NOTIONAL_TRY=None
    )

    report = check(settings)

    assert failures(report) == [
        "FAIL  cap MAX_OPEN_ORDERS: unset: the live job refuses to start without it; set MAX_OPEN_ORDERS (the pilot "
        "profile: 2)",
        "FAIL  cap MAX_OPEN_ORDERS_PER_SYMBOL: unset: the live job refuses to start without it; set "
        "MAX_OPEN_ORDERS_PER_SYMBOL (the pilot profile: 1)",
        "FAIL  cap LIVE_CANARY_NOTIONAL_TRY: unset: the live job refuses to start without it; set "
        "LIVE_CANARY_NOTIONAL_TRY (the pilot profile: 200)",
    ]


def test_caps_that_cannot_bind_or_cannot_trade_warn(demo: FakeBtcturk, tmp_path: Path) -> None:
    settings = settings_for(
        demo,
        tmp_path,
        MAX_OPEN_ORDERS="1",
        MAX_OPEN_ORDERS_PER_SYMBOL="3",
        LIVE_CANARY_NOTIONAL_TRY="50",
        NOTIONAL_CAP_TRY_PER_CYCLE="40",
    )

    report = check(settings)

    caps = {c.name: c for c in report.checks if c.name.startswith("cap ")}
    assert caps["cap MAX_OPEN_ORDERS_PER_SYMBOL"] == Check(
        WARN, "cap MAX_OPEN_ORDERS_PER_SYMBOL", "3, above MAX_OPEN_ORDERS=1, which binds first"
    )
    assert caps["cap LIVE_CANARY_NOTIONAL_TRY"] == Check(
        WARN,
        "cap LIVE_CANARY_NOTIONAL_TRY",
        "50 TRY per live cycle, above NOTIONAL_CAP_TRY_PER_CYCLE=40, which binds first; below the minimum notional "
        "of BTCTRY, USDTTRY: no order of them can be placed",
    )
    assert report.exit_code == 0


class StubClient:
    """An exchange the test writes: preflight reaches the network only through its client."""

    def __init__(self, balances: list[Any]) -> None:
        self.rows = balances
        self.closed = False

    def server_time_ms(self) -> int:
        return 1_767_225_600_000  # 2026-01-01T00:00:00Z

    def exchange_info(self) -> Any:
        price_filter = {"filterType": "PRICE_FILTER", "tickSize": "1", "minExchangeValue": "100"}
        btctry = {"name": "BTCTRY", "status": "TRADING", "numeratorScale": 8, "denominatorScale": 0}
        return {"symbols": [{**btctry, "filters": [price_filter]}]}

    def balances(self) -> list[Any]:
        return self.rows

    def close(self) -> None:
        self.closed = True


def test_the_injected_client_is_the_only_exchange(demo: FakeBtcturk, tmp_path: Path) -> None:
    from btcbot_pipeline.adapters.btcturk.schemas import Balance

    stub = StubClient([Balance(asset="TRY", balance=Decimal("150"), free=Decimal("120"), locked=Decimal("30"))])
    settings = settings_for(demo, tmp_path, STAGE7_UNIVERSE_WHITELIST="BTCTRY")

    report = check(settings, client_factory=lambda _settings: stub, clock=lambda: 1_767_225_600.0)

    assert stub.closed
    assert demo.requests == []
    assert Check(OK, "clock", "exchange clock 2026-01-01T00:00:00Z, +0 ms from this machine (WARN beyond ±1000 ms, "
                 "FAIL beyond ±5000)") in report.checks  # fmt: skip
    assert Check(
        WARN, "cap LIVE_CANARY_NOTIONAL_TRY", "200 TRY per live cycle, above the free TRY balance: the exchange "
        "refuses unfunded buys"
    ) in report.checks  # fmt: skip


def test_no_quote_balance_warns(demo: FakeBtcturk, tmp_path: Path) -> None:
    from btcbot_pipeline.adapters.btcturk.schemas import Balance

    stub = StubClient([Balance(asset="BTC", balance=Decimal("1"))])
    settings = settings_for(demo, tmp_path, STAGE7_UNIVERSE_WHITELIST="BTCTRY")

    report = check(settings, client_factory=lambda _settings: stub)

    assert (
        Check(
            WARN,
            "balances",
            "read with these credentials: 1 assets, TRY not held: buys cannot be funded (amounts not shown)",
        )
        in report.checks
    )


def test_an_unreachable_exchange_fails_each_network_check(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    settings = load_settings(
        None, **{**ARMED, "BTCTURK_BASE_URL": url, "BTCTURK_GRAPH_BASE_URL": url, "BTCTURK_TIMEOUT_SEC": "1"}
    )

    report = check(settings)

    assert report.failed == ["balances", "clock", "rules"]
    assert f"TransportError: ConnectError for url '{url}/api/v2/server/time'" in report.text()


# --- the live book --------------------------------------------------------------------------


def claimed_book(path: Path, settings: BotSettings, kind: str, name: str) -> str:
    """A book of ``kind`` at ``path``; returns its content digest."""
    with duckdb.connect(str(path)) as con:
        Book(con).claim(run_identity(settings, kind=kind, name=name))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["dry_run", "backtest"])
def test_a_live_book_of_another_kind_fails(demo: FakeBtcturk, tmp_path: Path, kind: str) -> None:
    settings = settings_for(demo, tmp_path)
    book = tmp_path / "live.duckdb"
    digest = claimed_book(book, settings, kind, "not-live")

    report = check(settings)

    assert failures(report) == [
        f"FAIL  book: LIVE_STATE_DB_PATH={book} is a {kind} book ('not-live'); a live run never writes a dry-run or "
        "backtest book; point LIVE_STATE_DB_PATH at a DuckDB file of its own (the pilot profile: "
        "data/btcbot_live.duckdb)"
    ]
    assert hashlib.sha256(book.read_bytes()).hexdigest() == digest  # only read


def test_a_live_book_passes_and_is_only_read(demo: FakeBtcturk, tmp_path: Path) -> None:
    settings = settings_for(demo, tmp_path)
    book = tmp_path / "live.duckdb"
    digest = claimed_book(book, settings, "live", "pilot")

    report = check(settings)

    assert report.exit_code == 0, report.text()
    assert report.lines[-2:] == [
        f"OK    book: LIVE_STATE_DB_PATH={book}: live book 'pilot' of source btcturk, "
        f"schema version {SCHEMA_VERSION} (current)",
        "OK    book check: 0 cycles (rows of the last 0 recomputed) check out",
    ]
    assert hashlib.sha256(book.read_bytes()).hexdigest() == digest


def test_an_unclaimed_book_file_is_accepted(demo: FakeBtcturk, tmp_path: Path) -> None:
    book = tmp_path / "live.duckdb"
    duckdb.connect(str(book)).close()

    report = check(settings_for(demo, tmp_path))

    assert report.lines[-1] == (
        f"OK    book: LIVE_STATE_DB_PATH={book} exists, not claimed yet; the first live run makes it a live book"
    )


def test_a_book_locked_by_a_writer_fails(demo: FakeBtcturk, tmp_path: Path) -> None:
    import subprocess
    import sys

    settings = settings_for(demo, tmp_path)
    book = tmp_path / "live.duckdb"
    claimed_book(book, settings, "live", "pilot")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,sys; c=duckdb.connect({str(book)!r}); print('ready', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        report = check(settings)
    finally:
        holder.communicate("")

    (line,) = failures(report)
    assert line.startswith(
        f"FAIL  book: LIVE_STATE_DB_PATH={book} is locked by another process (a live run in progress?)"
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"LIVE_STATE_DB_PATH": "{tmp}/book.duckdb"}, "is STATE_DB_PATH, the dry-run book"),
        ({"LIVE_STATE_DB_PATH": "{tmp}/backtests/live.duckdb"}, "is in BACKTEST_DIR={tmp}/backtests"),
        ({"LIVE_STATE_DB_PATH": "{tmp}"}, "is a folder: it must name a DuckDB file"),
    ],
)  # fmt: skip
def test_a_live_book_path_that_is_not_its_own_fails(
    demo: FakeBtcturk, tmp_path: Path, overrides: dict[str, str], problem: str
) -> None:
    values = {k: v.format(tmp=tmp_path) for k, v in overrides.items()}

    report = check(settings_for(demo, tmp_path, **values))

    (line,) = failures(report)
    assert line.startswith(f"FAIL  book: LIVE_STATE_DB_PATH={values['LIVE_STATE_DB_PATH']}")
    assert problem.format(tmp=tmp_path) in line


# --- profile, settings lines, arm state -------------------------------------------------------


def test_an_unknown_profile_is_refused_exit_2(demo: FakeBtcturk, tmp_path: Path) -> None:
    report = check(settings_for(demo, tmp_path), profile="paper")

    assert report.lines == ["FAIL  profile: unknown profile 'paper' (known: live)"]
    assert report.exit_code == 2 and demo.requests == []
    assert run_preflight(None, profile="paper").exit_code == 2


def test_a_misspelt_gate_in_the_env_file_is_warned(demo: FakeBtcturk, tmp_path: Path) -> None:
    env = tmp_path / ".env.live"
    env.write_text("KILL_SWICH=false\n")

    report = preflight(settings_for(demo, tmp_path), env_file=env, environ={})

    assert (
        Check(
            WARN,
            "settings",
            f"KILL_SWICH ({env}) is not a setting of this bot; it is ignored (did you mean KILL_SWITCH? (otherwise "
            "remove it))",
        )
        in report.checks
    )


def test_arm_state_of_the_defaults_is_all_closed() -> None:
    assert arm_state_lines(load_settings(None)) == [
        "arm  DRY_RUN=true            CLOSED",
        "arm  KILL_SWITCH=true        CLOSED",
        "arm  LIVE_TRADING=false      CLOSED",
        "arm  LIVE_TRADING_ACK=unset  CLOSED",
    ]


# --- the pilot profile ---------------------------------------------------------------------


def test_the_pilot_profile_loads_once_the_credentials_are_filled_in() -> None:
    settings = load_settings(PILOT, BTCTURK_API_KEY=FAKE_API_KEY, BTCTURK_API_SECRET=FAKE_API_SECRET)

    assert (settings.dry_run, settings.kill_switch, settings.live_trading) == (False, True, True)
    assert settings.live_trading_ack == "I_UNDERSTAND" and settings.stage7_enabled is False
    assert settings.market_data_source == "btcturk"
    assert settings.stage7_universe_size == 5
    assert settings.stage7_universe_whitelist == ("BTCTRY", "ETHTRY", "USDTTRY", "XRPTRY", "AVAXTRY")
    assert (settings.max_open_orders, settings.max_open_orders_per_symbol) == (2, 1)
    assert settings.live_canary_notional_try == Decimal("200")
    assert settings.max_position_notional_try == Decimal("200")
    assert settings.notional_cap_try_per_cycle == Decimal("200")
    assert settings.live_state_db_path == "data/btcbot_live.duckdb"
    assert settings.live_state_db_path != settings.state_db_path
    assert not settings.live_orders_possible()  # the kill switch is on
    assert [line.split()[-1] for line in arm_state_lines(settings)] == ["OPEN", "CLOSED", "OPEN", "OPEN"]


def test_the_pilot_profile_without_credentials_is_refused_for_them_only() -> None:
    report = run_preflight(PILOT)

    assert report.lines == [
        "FAIL  settings: BTCTURK_API_KEY, BTCTURK_API_SECRET: LIVE_TRADING=true requires both credentials (was "
        "BTCTURK_API_KEY=unset, BTCTURK_API_SECRET=unset)"
    ]
    assert report.exit_code == 2


def test_the_pilot_profile_names_no_unknown_setting() -> None:
    from btcbot_pipeline.settings.names import unknown_setting_names

    assert unknown_setting_names({}, PILOT) == []
