"""``btcbot preflight --profile live``: may the live job start, and is it armed?

:func:`preflight` checks loaded settings, in this order, one line each
(``OK|WARN|FAIL  <check>: <detail>``; a FAIL says what to set):

1. ``gate DRY_RUN`` / ``gate KILL_SWITCH`` / ``gate LIVE_TRADING`` / ``gate LIVE_TRADING_ACK``:
   open means ``false`` / ``false`` / ``true`` / ``I_UNDERSTAND``. ``KILL_SWITCH=true`` is a
   FAIL for arming, and the pilot's safe state: with every other gate open the report says
   "armed except the kill switch" (live cycles run and record, nothing is placed or
   cancelled) and :attr:`PreflightReport.startable` stays true.
2. ``credentials`` (set or unset, never their values), then ``balances``: a private read
   with them (a refusal is named by its class and BTCTurk's message, e.g. ``AuthError
   (Unauthorized - Invalid Request)``).
3. ``clock``: the exchange's clock against this machine's; FAIL beyond ±5 s (BTCTurk
   refuses signed requests stamped further off), WARN beyond ±1 s.
4. ``rules <SYMBOL>`` for every ``STAGE7_UNIVERSE_WHITELIST`` symbol: listed by
   exchangeinfo, ``TRADING``, quoted in ``STAGE7_UNIVERSE_QUOTE_CCY``, with a tick, a
   quantity step and a minimum notional; an unknown one FAILs with "did you mean …?". An
   empty whitelist is a WARN: the live universe would be every pair.
5. ``cap MAX_OPEN_ORDERS`` / ``cap MAX_OPEN_ORDERS_PER_SYMBOL`` /
   ``cap LIVE_CANARY_NOTIONAL_TRY``: unset is a FAIL (the live job refuses without them).
   Sanity, all WARN (a stricter limit still holds, nothing unsafe happens): a zero cap (no
   order can rest), a per-symbol cap above the total, a canary above
   ``NOTIONAL_CAP_TRY_PER_CYCLE`` (that cap binds first), above the free quote balance
   (the exchange refuses unfunded buys), or below a whitelisted pair's minimum notional
   (that pair can get no order). ``cap MAX_POSITION_NOTIONAL_TRY`` is shown.
6. ``book``: ``LIVE_STATE_DB_PATH`` can hold a book, is neither ``STATE_DB_PATH`` nor in
   ``BACKTEST_DIR``; if it exists (opened read-only, never created or changed here): of kind
   ``live``, its schema current or migratable, and ``book check``: ``verify_book`` finds no
   error in its last :data:`VERIFY_CYCLES` cycles.

Then ``settings`` lines: names in the environment or ``env_file`` that no setting reads
(a misspelt gate is read by nobody), and ``STAGE7_ENABLED=true`` (WARN: the dry-run
schedule would run with these settings too).

Exit codes (:attr:`PreflightReport.exit_code`): 0 every check OK (WARN allowed), 1 a check
FAILED, 2 the settings are refused or the profile is unknown. :func:`arm_state_lines` is
the arm state, one line per gate, that every live run logs first. The network is reached
only through the client this module builds from the settings (or ``client_factory``'s).
"""

from __future__ import annotations

import difflib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from btcbot_pipeline.domain import utc
from btcbot_pipeline.settings.fields import decimal_text

if TYPE_CHECKING:
    from btcbot_pipeline.domain.exchange_rules import EffectiveRules
    from btcbot_pipeline.settings import BotSettings

OK, WARN, FAIL = "OK", "WARN", "FAIL"
PROFILES = ("live",)
# BTCTurk refuses a signed request whose X-Stamp is more than 5 s from its clock.
CLOCK_FAIL_MS = 5000
CLOCK_WARN_MS = 1000
# The book check recomputes the rows of this many recent cycles (a day of 5-minute cycles).
VERIFY_CYCLES = 288
# difflib ratio above which an exchange symbol is offered for a whitelist entry (BTCTRYY).
SUGGEST_CUTOFF = 0.6
KILL_SWITCH_CHECK = "gate KILL_SWITCH"
PILOT_SAFE_STATE = (
    "the pilot's safe state: live cycles run and record, nothing is placed or cancelled; "
    "set KILL_SWITCH=false for a controlled canary run"
)


class PreflightClient(Protocol):
    """What preflight asks of the exchange (a ``BtcturkReadClient`` has it all; ``balances``
    is asked only when both credentials are set)."""

    def server_time_ms(self) -> int: ...

    def exchange_info(self) -> Any: ...

    def balances(self) -> list[Any]: ...

    def close(self) -> None: ...


ClientFactory = Callable[["BotSettings"], PreflightClient]


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight line: ``status`` (OK / WARN / FAIL), the check's name and what was seen."""

    status: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """Every check of one preflight, in order.

    Attributes:
        profile: the profile checked (``live``).
        checks: the check lines' content, in order.
        arm_state: :func:`arm_state_lines` of the settings (empty when they were refused).
        refused: the settings were refused or the profile is unknown (exit 2).
    """

    profile: str
    checks: tuple[Check, ...]
    arm_state: tuple[str, ...] = ()
    refused: bool = False

    @property
    def lines(self) -> list[str]:
        """One ``OK|WARN|FAIL  <check>: <detail>`` line per check."""
        return [c.line() for c in self.checks]

    @property
    def failed(self) -> list[str]:
        """The names of the checks that FAILED."""
        return [c.name for c in self.checks if c.status == FAIL]

    @property
    def exit_code(self) -> int:
        """0 every check OK (WARN allowed), 1 a check FAILED, 2 settings refused or profile unknown."""
        if self.refused:
            return 2
        return 1 if self.failed else 0

    @property
    def ok(self) -> bool:
        """Every check passed: armed, ready to place orders."""
        return self.exit_code == 0

    @property
    def startable(self) -> bool:
        """A live run may start: nothing FAILED but, at most, the kill switch (then the run
        records its cycle and places and cancels nothing)."""
        return not self.refused and all(name == KILL_SWITCH_CHECK for name in self.failed)

    def verdict(self) -> str:
        """The last line: armed, armed except the kill switch, what failed, or refused."""
        head = f"preflight --profile {self.profile}"
        warnings = sum(c.status == WARN for c in self.checks)
        also = f", {warnings} warning(s)" if warnings else ""
        if self.refused:
            return f"{head}: refused, nothing checked (exit 2)"
        if self.ok:
            return f"{head}: armed, every check passed{also} (exit 0)"
        if self.startable:
            return f"{head}: armed except the kill switch ({PILOT_SAFE_STATE}){also} (exit 1)"
        return f"{head}: {len(self.failed)} check(s) failed: {', '.join(self.failed)}{also} (exit 1)"

    def text(self) -> str:
        """The arm state, the check lines and the verdict, as ``btcbot preflight`` prints them."""
        return "\n".join([*self.arm_state, *self.lines, self.verdict()])


def arm_state_lines(settings: BotSettings) -> list[str]:
    """The arm state, one line per gate: ``arm  DRY_RUN=false  OPEN`` (``CLOSED`` when the gate
    blocks live orders), in the order DRY_RUN, KILL_SWITCH, LIVE_TRADING, LIVE_TRADING_ACK.
    No secret is part of it."""
    states = [(f"{name}={value}", is_open) for name, value, is_open in settings.gate_states()]
    width = max(len(text) for text, _ in states)
    return [f"arm  {text:<{width}}  {'OPEN' if is_open else 'CLOSED'}" for text, is_open in states]


def preflight(
    settings: BotSettings,
    *,
    profile: str = "live",
    client_factory: ClientFactory | None = None,
    env_file: str | os.PathLike[str] | None = ".env",
    environ: dict[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> PreflightReport:
    """Check ``settings`` for ``profile`` (only ``live``); never raises for an exchange or
    book problem, each is a FAIL line.

    Args:
        settings: the loaded settings.
        profile: ``live``; any other is refused (exit 2).
        client_factory: builds the exchange client from the settings (default: a
            ``BtcturkReadClient`` with the credentials, a ``BtcturkPublicClient`` without).
        env_file: the ``.env`` the settings came from, searched for names no setting reads.
        environ: the process environment (default ``os.environ``), searched likewise.
        clock: this machine's clock, Unix seconds (the skew is measured against it).
    """
    if profile not in PROFILES:
        return _unknown_profile(profile)
    arm = tuple(arm_state_lines(settings))
    # A BotSettings changed with model_copy skips its validators: ask again.
    problems = settings._combination_problems()
    if problems:
        return PreflightReport(profile, tuple(Check(FAIL, "settings", p) for p in problems), arm, refused=True)
    seen = _Seen()
    checks = [*_gate_checks(settings), *_credential_check(settings)]
    factory = client_factory or default_client
    client = factory(settings)
    try:
        if settings.credentials_set():
            checks.append(_balances_check(settings, client, seen))
        checks.append(_clock_check(client, clock))
        checks.extend(_rules_checks(settings, client, seen))
    finally:
        client.close()
    checks.extend(_cap_checks(settings, seen))
    checks.extend(_book_checks(settings))
    checks.extend(_settings_checks(settings, env_file, os.environ if environ is None else environ))
    return PreflightReport(profile, tuple(checks), arm)


def run_preflight(
    env_file: str | os.PathLike[str] | None = ".env",
    *,
    profile: str = "live",
    overrides: dict[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], float] = time.time,
) -> PreflightReport:
    """Load the settings (``load_settings(env_file, **overrides)``), then :func:`preflight`;
    refused settings are one ``FAIL  settings: <problem>`` line per problem (exit 2)."""
    from btcbot_pipeline.settings import SettingsError, load_settings

    if profile not in PROFILES:
        return _unknown_profile(profile)
    try:
        settings = load_settings(env_file, **(overrides or {}))
    except SettingsError as exc:
        return PreflightReport(profile, tuple(Check(FAIL, "settings", p) for p in exc.problems), refused=True)
    return preflight(settings, profile=profile, client_factory=client_factory, env_file=env_file, clock=clock)


def _unknown_profile(profile: str) -> PreflightReport:
    check = Check(FAIL, "profile", f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    return PreflightReport(profile, (check,), refused=True)


def default_client(settings: BotSettings) -> PreflightClient:
    """The project's read-only client at ``BTCTURK_BASE_URL``: two attempts per call, the
    configured timeout, deadline and body cap; with the credentials when both are set."""
    from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient, BtcturkReadClient
    from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
    from btcbot_pipeline.adapters.btcturk.signing import Credentials

    config = replace(settings.client_config(), retry=RetryPolicy(max_attempts=2, base_delay_s=0.2))
    key, secret = settings.btcturk_api_key, settings.btcturk_api_secret
    if key is not None and secret is not None:
        return BtcturkReadClient(Credentials(key, secret), config)
    return BtcturkPublicClient(config)  # type: ignore[return-value]  # balances is never asked


@dataclass
class _Seen:
    """What one check learnt for a later one: the free quote balance, the pairs' minimum notionals."""

    free_quote: Decimal | None = None
    min_notional: dict[str, Decimal] = field(default_factory=dict)


# --- 1. gates ----------------------------------------------------------------------------

_GATE_FIX = {
    "DRY_RUN": "set DRY_RUN=false to arm live trading (true: simulation only)",
    "LIVE_TRADING": "set LIVE_TRADING=true (with DRY_RUN=false, LIVE_TRADING_ACK=I_UNDERSTAND and both credentials)",
    "LIVE_TRADING_ACK": "set LIVE_TRADING_ACK=I_UNDERSTAND",
}


def _gate_checks(settings: BotSettings) -> list[Check]:
    states = settings.gate_states()
    others_open = all(is_open for name, _value, is_open in states if name != "KILL_SWITCH")
    checks = []
    for name, value, is_open in states:
        shown = value if value in ("true", "false", "unset", "I_UNDERSTAND") else repr(value)
        if is_open:
            checks.append(Check(OK, f"gate {name}", f"{name}={shown}"))
        elif name == "KILL_SWITCH":
            armed = "armed except the kill switch, " if others_open else ""
            checks.append(Check(FAIL, KILL_SWITCH_CHECK, f"KILL_SWITCH=true ({armed}{PILOT_SAFE_STATE})"))
        else:
            checks.append(Check(FAIL, f"gate {name}", f"{name}={shown}; {_GATE_FIX[name]}"))
    return checks


# --- 2. credentials and balances -----------------------------------------------------------


def _credential_check(settings: BotSettings) -> list[Check]:
    # Only whether each is set: the values are secrets.
    key = "set" if settings.btcturk_api_key is not None else "unset"
    secret = "set" if settings.btcturk_api_secret is not None else "unset"
    shown = f"BTCTURK_API_KEY={key}, BTCTURK_API_SECRET={secret}"
    if settings.credentials_set():
        return [Check(OK, "credentials", f"{shown} (values never shown)")]
    return [
        Check(
            FAIL,
            "credentials",
            f"{shown}; set both (a BTCTurk API key allowed to trade, this machine's IP whitelisted); balances not read",
        )
    ]


def _error_text(exc: BaseException) -> str:
    """An exchange error as its class and BTCTurk's message name (never a credential)."""
    name = getattr(exc, "name", None)
    if name:
        return f"{type(exc).__name__} ({name})"
    return f"{type(exc).__name__}: {exc}"


def _balances_check(settings: BotSettings, client: PreflightClient, seen: _Seen) -> Check:
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
    from btcbot_pipeline.adapters.btcturk.signing import CredentialsError

    try:
        rows = client.balances()
    except (BtcturkError, CredentialsError) as exc:
        return Check(
            FAIL,
            "balances",
            f"the read with these credentials failed: {_error_text(exc)}; check BTCTURK_API_KEY and "
            "BTCTURK_API_SECRET, the key's permissions and its IP whitelist",
        )
    quote = settings.stage7_universe_quote_ccy
    row = next((b for b in rows if str(b.asset).upper() == quote), None)
    if row is not None:
        seen.free_quote = row.free if row.free is not None else row.balance
    held = "held" if seen.free_quote else "not held: buys cannot be funded"
    detail = f"read with these credentials: {len(rows)} assets, {quote} {held} (amounts not shown)"
    return Check(OK if seen.free_quote else WARN, "balances", detail)


# --- 3. clock ------------------------------------------------------------------------------


def _clock_check(client: PreflightClient, clock: Callable[[], float]) -> Check:
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError

    try:
        before = clock()
        server_ms = client.server_time_ms()
        after = clock()
    except BtcturkError as exc:
        return Check(FAIL, "clock", f"server time unreadable, the skew is unknown: {_error_text(exc)}")
    # Against the midpoint of the call: the answer was stamped somewhere in between.
    skew_ms = int(server_ms - (before + after) * 500)
    stamp = utc.text(datetime.fromtimestamp(server_ms / 1000, tz=timezone.utc))
    detail = f"exchange clock {stamp}, {skew_ms:+d} ms from this machine"
    fix = "; sync this machine's clock (NTP: timedatectl set-ntp true)"
    if abs(skew_ms) > CLOCK_FAIL_MS:
        return Check(
            FAIL, "clock", f"{detail}: BTCTurk refuses signed requests stamped beyond ±{CLOCK_FAIL_MS} ms{fix}"
        )
    if abs(skew_ms) > CLOCK_WARN_MS:
        return Check(WARN, "clock", f"{detail}, beyond ±{CLOCK_WARN_MS} ms (refused beyond ±{CLOCK_FAIL_MS}){fix}")
    return Check(OK, "clock", f"{detail} (WARN beyond ±{CLOCK_WARN_MS} ms, FAIL beyond ±{CLOCK_FAIL_MS})")


# --- 4. rules of the universe --------------------------------------------------------------


def _rules_checks(settings: BotSettings, client: PreflightClient, seen: _Seen) -> list[Check]:
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
    from btcbot_pipeline.adapters.replay.exchangeinfo import ExchangeInfoError, parse_exchange_info

    whitelist = settings.stage7_universe_whitelist
    quote = settings.stage7_universe_quote_ccy
    if not whitelist:
        return [
            Check(
                WARN,
                "rules",
                f"STAGE7_UNIVERSE_WHITELIST is empty: the live universe would be every {quote} pair (the "
                f"BTCTURK_MAX_SYMBOLS={settings.btcturk_max_symbols} largest); set a whitelist of a few liquid "
                "pairs for a canary",
            )
        ]
    try:
        rules = parse_exchange_info(client.exchange_info())
    except (BtcturkError, ExchangeInfoError) as exc:
        return [Check(FAIL, "rules", f"exchangeinfo unreadable, no symbol checked: {_error_text(exc)}")]
    return [_symbol_check(symbol, rules, settings, seen) for symbol in whitelist]


def _symbol_check(symbol: str, rules: dict[str, Any], settings: BotSettings, seen: _Seen) -> Check:
    from btcbot_pipeline.domain.exchange_rules import resolve_rules

    name = f"rules {symbol}"
    quote = settings.stage7_universe_quote_ccy
    if symbol not in rules:
        close = difflib.get_close_matches(symbol, sorted(rules), n=1, cutoff=SUGGEST_CUTOFF)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return Check(FAIL, name, f"not listed by the exchange{hint}; fix STAGE7_UNIVERSE_WHITELIST")
    if not (symbol.endswith(quote) and len(symbol) > len(quote)):
        return Check(FAIL, name, f"not quoted in {quote} (STAGE7_UNIVERSE_QUOTE_CCY): never selected")
    # The metadata policy's fallbacks are for simulation; live orders need the exchange's own rules.
    resolved = resolve_rules(symbol, rules[symbol], replace(settings.rules_params(), require_metadata=True))
    if not resolved.usable:
        return Check(FAIL, name, f"{resolved.detail}: no live order can be placed")
    assert resolved.min_notional_try is not None
    seen.min_notional[symbol] = resolved.min_notional_try
    detail = _rules_text(rules[symbol].status, resolved, quote)
    if symbol in settings.stage7_universe_blacklist:
        return Check(WARN, name, f"{detail}; also in STAGE7_UNIVERSE_BLACKLIST: never selected")
    if resolved.min_notional_source == "safe_floor":
        return Check(
            WARN,
            name,
            f"{detail} (no published minimum: the safe floor STAGE7_RULES_SAFE_MIN_NOTIONAL_TRY applies)",
        )
    return Check(OK, name, detail)


def _rules_text(status: str, resolved: EffectiveRules, quote: str) -> str:
    assert resolved.price_step is not None and resolved.quantity_step is not None
    assert resolved.min_notional_try is not None
    return (
        f"{status}, tick {decimal_text(resolved.price_step)}, quantity step {decimal_text(resolved.quantity_step)}, "
        f"min notional {decimal_text(resolved.min_notional_try)} {quote}"
    )


# --- 5. caps -------------------------------------------------------------------------------

_UNSET_FIX = "unset: the live job refuses to start without it; set {name} (the pilot profile: {pilot})"


def _cap_checks(settings: BotSettings, seen: _Seen) -> list[Check]:
    total, per_symbol = settings.max_open_orders, settings.max_open_orders_per_symbol
    checks = []
    if total is None:
        checks.append(Check(FAIL, "cap MAX_OPEN_ORDERS", _UNSET_FIX.format(name="MAX_OPEN_ORDERS", pilot=2)))
    elif total == 0:
        checks.append(Check(WARN, "cap MAX_OPEN_ORDERS", "0: no order can rest, the live job places nothing"))
    else:
        checks.append(Check(OK, "cap MAX_OPEN_ORDERS", f"{total} order(s) resting at once, all symbols together"))
    name = "cap MAX_OPEN_ORDERS_PER_SYMBOL"
    if per_symbol is None:
        checks.append(Check(FAIL, name, _UNSET_FIX.format(name="MAX_OPEN_ORDERS_PER_SYMBOL", pilot=1)))
    elif per_symbol == 0:
        checks.append(Check(WARN, name, "0: no order can rest, the live job places nothing"))
    elif total is not None and per_symbol > total:
        checks.append(Check(WARN, name, f"{per_symbol}, above MAX_OPEN_ORDERS={total}, which binds first"))
    else:
        checks.append(Check(OK, name, f"{per_symbol} order(s) resting at once per symbol"))
    checks.append(_canary_check(settings, seen))
    checks.append(
        Check(
            OK,
            "cap MAX_POSITION_NOTIONAL_TRY",
            f"{decimal_text(settings.max_position_notional_try)} TRY per symbol at most",
        )
    )
    return checks


def _canary_check(settings: BotSettings, seen: _Seen) -> Check:
    name = "cap LIVE_CANARY_NOTIONAL_TRY"
    canary = settings.live_canary_notional_try
    if canary is None:
        return Check(FAIL, name, _UNSET_FIX.format(name="LIVE_CANARY_NOTIONAL_TRY", pilot=200))
    cap = settings.notional_cap_try_per_cycle
    quote = settings.stage7_universe_quote_ccy
    shown = f"{decimal_text(canary)} TRY per live cycle"
    problems = []
    if canary > cap:
        problems.append(f"above NOTIONAL_CAP_TRY_PER_CYCLE={decimal_text(cap)}, which binds first")
    if seen.free_quote is not None and canary > seen.free_quote:
        problems.append(f"above the free {quote} balance: the exchange refuses unfunded buys")
    if canary < settings.min_order_notional_try:
        problems.append(f"below MIN_ORDER_NOTIONAL_TRY={decimal_text(settings.min_order_notional_try)}: no order")
    small = sorted(s for s, minimum in seen.min_notional.items() if canary < minimum)
    if small:
        problems.append(f"below the minimum notional of {', '.join(small)}: no order of them can be placed")
    if problems:
        return Check(WARN, name, f"{shown}, " + "; ".join(problems))
    within = f"within NOTIONAL_CAP_TRY_PER_CYCLE={decimal_text(cap)}"
    if seen.free_quote is not None:
        within += f" and the free {quote} balance"
    return Check(OK, name, f"{shown}, {within}")


# --- 6. the live book ----------------------------------------------------------------------


def _book_checks(settings: BotSettings) -> list[Check]:
    from btcbot_pipeline.storage.paths import book_path_problem

    path = settings.live_state_db_path
    where = f"LIVE_STATE_DB_PATH={path}"
    fix = "; point LIVE_STATE_DB_PATH at a DuckDB file of its own (the pilot profile: data/btcbot_live.duckdb)"
    problem = book_path_problem(path, "LIVE_STATE_DB_PATH")
    if problem:
        return [Check(FAIL, "book", problem + fix)]
    live = Path(path).resolve()
    if live == Path(settings.state_db_path).resolve():
        return [Check(FAIL, "book", f"{where} is STATE_DB_PATH, the dry-run book{fix}")]
    if live.is_relative_to(Path(settings.backtest_dir).resolve()):
        return [Check(FAIL, "book", f"{where} is in BACKTEST_DIR={settings.backtest_dir}, among the backtests{fix}")]
    if not live.exists():
        return [
            Check(OK, "book", f"{where} does not exist yet; the first live run creates it (its folder is writable)")
        ]
    return _existing_book_checks(live, where, fix)


def _existing_book_checks(path: Path, where: str, fix: str) -> list[Check]:
    import duckdb

    from btcbot_pipeline.storage.book import Book, BookError

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        if "lock" in message.lower():
            return [Check(FAIL, "book", f"{where} is locked by another process (a live run in progress?): {message}")]
        return [Check(FAIL, "book", f"{where} cannot be opened read-only: {message}{fix}")]
    try:
        book = Book(con)
        info = book.info()
        if info is None:
            return [Check(OK, "book", f"{where} exists, not claimed yet; the first live run makes it a live book")]
        kind, name = info.get("kind"), info.get("name")
        if kind != "live":
            return [
                Check(
                    FAIL,
                    "book",
                    f"{where} is a {kind} book ('{name}'); a live run never writes a dry-run or backtest book{fix}",
                )
            ]
        usable, schema = _schema_text(book.schema_version())
        if usable is None:
            return [Check(FAIL, "book", f"{where}: live book '{name}' of {schema}")]
        checks = [Check(OK, "book", f"{where}: live book '{name}' of source {info.get('source')}, {schema}")]
        if usable == "current":  # an older book is verified by the live job once migrated
            checks.append(_verify_check(con))
        return checks
    except (BookError, duckdb.Error) as exc:
        return [Check(FAIL, "book", f"{where} cannot be read: {str(exc).splitlines()[0]}")]
    finally:
        con.close()


def _schema_text(version: int | None) -> tuple[str | None, str]:
    """``("current" | "migratable" | None, text)`` for a book's schema version (``None``: no
    run can use it)."""
    from btcbot_pipeline.storage.schema import MIGRATIONS, SCHEMA_VERSION

    if version == SCHEMA_VERSION:
        return "current", f"schema version {version} (current)"
    steps = range(version, SCHEMA_VERSION) if version is not None else range(0)
    if version is not None and version < SCHEMA_VERSION and all(v in MIGRATIONS for v in steps):
        return "migratable", f"schema version {version}, migrated to {SCHEMA_VERSION} when the live job first opens it"
    return None, (
        f"schema version {version}, which this code (version {SCHEMA_VERSION}) cannot open: start a new live book "
        "or run the btcbot_pipeline version that wrote it"
    )


def _verify_check(con: Any) -> Check:
    from btcbot_pipeline.storage.verify import verify_book

    report = verify_book(con, rows_last=VERIFY_CYCLES)
    scope = f"{report.cycles} cycles (rows of the last {report.rows_checked} recomputed)"
    if report.exit_code == 0:
        return Check(OK, "book check", f"{scope} check out")
    first = "; ".join(f.line() for f in report.findings[:2])
    errors = len(report.errors())
    status = FAIL if errors else WARN
    return Check(
        status,
        "book check",
        f"{errors} error(s), {len(report.findings) - errors} warning(s) in {scope}: {first} "
        "(btcbot verify LIVE_STATE_DB_PATH lists them all)",
    )


# --- settings nobody reads, the dry-run switch -----------------------------------------------


def _settings_checks(
    settings: BotSettings, env_file: str | os.PathLike[str] | None, environ: dict[str, str] | Any
) -> list[Check]:
    from btcbot_pipeline.settings.names import unknown_setting_names

    checks = [
        Check(WARN, "settings", f"{unknown.message()} ({unknown.fix()})")
        for unknown in unknown_setting_names(environ, env_file)
    ]
    if settings.stage7_enabled:
        checks.append(
            Check(
                WARN,
                "settings",
                "STAGE7_ENABLED=true: the dry-run schedule and sensor also run simulated cycles with these settings "
                "into STATE_DB_PATH; the pilot profile keeps STAGE7_ENABLED=false",
            )
        )
    return checks


__all__ = [
    "Check",
    "PreflightClient",
    "PreflightReport",
    "arm_state_lines",
    "default_client",
    "preflight",
    "run_preflight",
]
