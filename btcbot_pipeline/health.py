"""``btcbot health``: can the configured market-data source be used right now?

Probes ``MARKET_DATA_SOURCE``, one line each with how long it took:

- ``btcturk``: ``server_time`` (the exchange's clock and this machine's skew from it),
  ``exchangeinfo`` (rules parse), ``ticker`` (every pair, as a cycle reads them; the age of
  the probed pair's row), ``orderbook`` and ``candles`` (graph API) of one pair of the
  effective universe, and with ``BTCTURK_API_KEY``/``BTCTURK_API_SECRET`` a ``balances``
  read (private, read-only; only counts are shown, never a secret);
- ``replay``: ``dataset`` (the ``replay-validate`` contract) and ``coverage`` (the
  dataset's order books against the cycle partitions).

Each probe is PASS, WARN (degraded: clock skew above the limit, stale or odd data, a
private read refused), FAIL (unusable: unreachable, bad settings, a broken dataset) or SKIP
(not applicable). The exit code is 0 healthy, 1 degraded, 2 unusable. ``btcbot doctor``
runs the same exchange probes (:func:`probe_exchange`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from btcbot_pipeline.domain import utc

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
RANK = {PASS: 0, SKIP: 0, WARN: 1, FAIL: 2}
VERDICTS = ("healthy", "degraded", "unusable")
# Above this the exchange's and this machine's clocks disagree enough to matter: staleness
# is judged against cycle times from this machine, and BTCTurk refuses signed calls beyond ±5 s.
DEFAULT_MAX_SKEW_MS = 2000
CANDLE_WINDOW_MIN = 15
_BPS_GRID = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe's outcome.

    Attributes:
        name: ``server_time``, ``exchangeinfo``, ...
        status: PASS / WARN / FAIL / SKIP.
        ms: how long it took, milliseconds (wall time of the calls).
        detail: one line of what was seen.
        fix: what to do, for WARN and FAIL.
        values: the measured figures, for ``--json`` (no secrets).
    """

    name: str
    status: str
    ms: float
    detail: str
    fix: str = ""
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Health:
    """Every probe of one source; ``target`` is its URL or dataset path."""

    source: str
    target: str
    probes: tuple[Probe, ...]

    @property
    def exit_code(self) -> int:
        return max((RANK[p.status] for p in self.probes), default=0)

    @property
    def verdict(self) -> str:
        return VERDICTS[self.exit_code]

    def text(self) -> str:
        width = max([len("PROBE")] + [len(p.name) for p in self.probes])
        lines = [
            f"health of the {self.source} source at {self.target}",
            f"{'PROBE':<{width}}  STATUS  {'TIME':>8}  DETAIL",
        ]
        for p in self.probes:
            lines.append(f"{p.name:<{width}}  {p.status:<6}  {p.ms:>5.0f} ms  {p.detail}")
            if p.fix and p.status in (WARN, FAIL):
                lines.append(f"{'':<{width}}  {'':<6}  {'':>8}  fix: {p.fix}")
        lines.append(f"health: {self.verdict} (exit {self.exit_code})")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "target": self.target,
                "status": self.verdict,
                "exit_code": self.exit_code,
                "probes": [
                    {
                        "name": p.name,
                        "status": p.status,
                        "ms": round(p.ms, 1),
                        "detail": p.detail,
                        "fix": p.fix,
                        "values": p.values,
                    }
                    for p in self.probes
                ],
            },
            indent=2,
            default=str,
        )


@dataclass(frozen=True, slots=True)
class ExchangeReport:
    """What the exchange probes saw, for the doctor's universe and rules checks.

    Attributes:
        probes: the probe lines.
        rules: exchangeinfo's rules by symbol (``None`` if it could not be read).
        by_volume: the ticker's pairs in the quote currency, largest quote volume first
            (``None`` if the ticker could not be read).
    """

    probes: tuple[Probe, ...]
    rules: dict[str, Any] | None
    by_volume: tuple[str, ...] | None


class _Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000


def _unreachable(exc: Exception) -> bool:
    from btcbot_pipeline.adapters.btcturk.errors import CircuitOpenError, TransportError

    return isinstance(exc, TransportError | CircuitOpenError)


def _fix(exc: Exception, down_fix: str, other: str) -> str:
    """The fix for a failed exchange call: ``down_fix`` when unreachable (and what a breached
    deadline means), the body cap's own, else ``other``."""
    from btcbot_pipeline.adapters.btcturk.client import DeadlineExceededError, ResponseTooLargeError

    if isinstance(exc, DeadlineExceededError):
        return down_fix + "; it answers, but too slowly: a call must end within BTCTURK_CALL_DEADLINE_SEC"
    if _unreachable(exc):
        return down_fix
    if isinstance(exc, ResponseTooLargeError):
        return (
            "the exchange sent a body over BTCTURK_MAX_BODY_BYTES: check that BTCTURK_BASE_URL and "
            "BTCTURK_GRAPH_BASE_URL "
            "point at the BTCTurk APIs (raise the cap only if their replies really grew)"
        )
    return other


def _age_s(server_now_ms: float, stamp_ms: int | None) -> int | None:
    # Whole seconds; a stamp a few ms "ahead" (the skew is measured, not exact) is 0 s old.
    return None if stamp_ms is None else max(0, round((server_now_ms - stamp_ms) / 1000))


def _stamp(ms: int) -> str:
    return utc.text(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))


def probe_symbol(
    whitelist: tuple[str, ...], blacklist: tuple[str, ...], by_volume: tuple[str, ...]
) -> tuple[str | None, bool]:
    """The pair to probe and whether it comes from the whitelist: the first whitelisted pair
    the exchange lists (``by_volume``: its pairs in the quote currency), else the largest such
    pair that is not blacklisted."""
    listed = set(by_volume)
    for symbol in whitelist:
        if symbol in listed and symbol not in blacklist:
            return symbol, True
    return next((s for s in by_volume if s not in blacklist), None), False


def probe_exchange(
    settings: Any, *, max_skew_ms: int = DEFAULT_MAX_SKEW_MS, clock: Callable[[], float] = time.time
) -> ExchangeReport:
    """Probe BTCTurk at ``BTCTURK_BASE_URL`` / ``BTCTURK_GRAPH_BASE_URL`` with the project's
    read-only clients (two attempts per call, the configured timeout, each call ending at
    ``BTCTURK_CALL_DEADLINE_SEC`` and refusing a body over ``BTCTURK_MAX_BODY_BYTES``). Never
    raises for an exchange problem: each becomes a probe line.

    Args:
        settings: the loaded :class:`~btcbot_pipeline.settings.BotSettings`.
        max_skew_ms: the largest |exchange clock − local clock| that is PASS.
        clock: this machine's clock, Unix seconds (the skew is measured against it).
    """
    from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient, ClientConfig
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
    from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
    from btcbot_pipeline.adapters.replay.exchangeinfo import ExchangeInfoError, parse_exchange_info

    config = ClientConfig(
        base_url=settings.btcturk_base_url,
        graph_base_url=settings.btcturk_graph_base_url,
        timeout_s=settings.btcturk_timeout_sec,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.2),
        call_deadline_s=settings.btcturk_call_deadline_sec,
        max_body_bytes=settings.btcturk_max_body_bytes,
    )
    base = settings.btcturk_base_url
    down_fix = (
        f"check that BTCTURK_BASE_URL={base} is reachable from this machine (network, proxy, firewall), "
        "or set MARKET_DATA_SOURCE=replay"
    )
    probes: list[Probe] = []
    rules: dict[str, Any] | None = None
    by_volume: tuple[str, ...] | None = None
    with BtcturkPublicClient(config) as client:
        # --- server time and skew --------------------------------------------------------
        timer = _Timer()
        skew_ms = 0
        try:
            before = clock()
            server_ms = client.server_time_ms()
            after = clock()
        except BtcturkError as exc:
            if _unreachable(exc):
                probes.append(
                    Probe("server_time", FAIL, timer.ms(), f"exchange unreachable: {exc}", _fix(exc, down_fix, ""))
                )
                return ExchangeReport(tuple(probes), None, None)
            probes.append(
                Probe(
                    "server_time",
                    WARN,
                    timer.ms(),
                    f"server time unreadable: {exc}",
                    _fix(
                        exc,
                        down_fix,
                        "the clock skew is unknown; check BTCTURK_BASE_URL points at the BTCTurk REST API",
                    ),
                )
            )
        else:
            skew_ms = int(server_ms - (before + after) * 500)
            values = {"server_time_ms": server_ms, "skew_ms": skew_ms, "max_skew_ms": max_skew_ms}
            detail = f"exchange clock {_stamp(server_ms)}, {skew_ms:+d} ms from this machine (limit ±{max_skew_ms} ms)"
            if abs(skew_ms) > max_skew_ms:
                probes.append(
                    Probe(
                        "server_time",
                        WARN,
                        timer.ms(),
                        "clock skew: " + detail,
                        "sync this machine's clock (NTP: timedatectl set-ntp true); data ages and signed calls (±5 "
                        "s) depend on it",
                        values,
                    )
                )
            else:
                probes.append(Probe("server_time", PASS, timer.ms(), detail, values=values))

        def server_now_ms() -> float:
            return clock() * 1000 + skew_ms

        # --- exchangeinfo ----------------------------------------------------------------
        timer = _Timer()
        try:
            rules = parse_exchange_info(client.exchange_info())
        except (BtcturkError, ExchangeInfoError) as exc:
            status = FAIL
            probes.append(
                Probe(
                    "exchangeinfo",
                    status,
                    timer.ms(),
                    f"exchangeinfo unusable: {exc}",
                    _fix(
                        exc,
                        down_fix,
                        "without exchange rules no pair is tradable; retry later or check BTCTURK_BASE_URL",
                    ),
                )
            )
            if _unreachable(exc):
                return ExchangeReport(tuple(probes), None, None)
        else:
            quote = settings.stage7_universe_quote_ccy
            trading = sorted(s for s, r in rules.items() if s.endswith(quote) and r.status == "TRADING")
            probes.append(
                Probe(
                    "exchangeinfo",
                    PASS if trading else WARN,
                    timer.ms(),
                    f"{len(rules)} pairs, {len(trading)} trading in {quote}",
                    "" if trading else f"no pair trades in {quote}: check STAGE7_UNIVERSE_QUOTE_CCY",
                    {"pairs": len(rules), "trading_in_quote": len(trading)},
                )
            )

        # --- ticker ----------------------------------------------------------------------
        timer = _Timer()
        try:
            tickers = {t.symbol: t for t in client.tickers()}
        except BtcturkError as exc:
            probes.append(
                Probe(
                    "ticker",
                    FAIL,
                    timer.ms(),
                    f"ticker unusable: {exc}",
                    _fix(exc, down_fix, "a cycle without the ticker runs OBSERVE_ONLY; retry later"),
                )
            )
            return ExchangeReport(tuple(probes), rules, None)
        quote = settings.stage7_universe_quote_ccy
        quoted = [t for t in tickers.values() if (t.denominatorsymbol or t.symbol[-len(quote) :]).upper() == quote]
        quoted.sort(key=lambda t: (-((t.volume or 0) * (t.last or 0)), t.symbol))
        by_volume = tuple(t.symbol for t in quoted)
        symbol, whitelisted = probe_symbol(
            settings.stage7_universe_whitelist, settings.stage7_universe_blacklist, by_volume
        )
        if symbol is None:
            probes.append(
                Probe(
                    "ticker",
                    WARN,
                    timer.ms(),
                    f"{len(tickers)} pairs, none quoted in {quote}",
                    f"check STAGE7_UNIVERSE_QUOTE_CCY={quote} and STAGE7_UNIVERSE_BLACKLIST",
                )
            )
            return ExchangeReport(tuple(probes), rules, by_volume)
        row = tickers[symbol]
        age = _age_s(server_now_ms(), row.timestamp)
        values = {
            "pairs": len(tickers),
            "pairs_in_quote": len(by_volume),
            "symbol": symbol,
            "last": row.last,
            "age_s": age,
        }
        shown_age = age if age is not None else "?"
        detail = f"{len(tickers)} pairs ({len(by_volume)} in {quote}); {symbol} last {row.last}, {shown_age} s old"
        max_age = settings.stage7_max_data_age_sec
        if not whitelisted and settings.stage7_universe_whitelist:
            probes.append(
                Probe(
                    "ticker",
                    WARN,
                    timer.ms(),
                    detail + f"; no whitelisted pair is listed, probed {symbol}",
                    "btcbot doctor shows the effective universe and suggestions for STAGE7_UNIVERSE_WHITELIST",
                    values,
                )
            )
        elif age is None or age > max_age:
            probes.append(
                Probe(
                    "ticker",
                    WARN,
                    timer.ms(),
                    f"stale data: {detail} (limit STAGE7_MAX_DATA_AGE_SEC={max_age})",
                    "the exchange's ticker is not updating; cycles skip stale pairs (stale_data)",
                    values,
                )
            )
        else:
            probes.append(Probe("ticker", PASS, timer.ms(), detail, values=values))

        # --- order book and candles of that pair -----------------------------------------
        probes.append(_book_probe(client, symbol, server_now_ms, max_age, down_fix))
        probes.append(_candle_probe(client, symbol, server_now_ms, settings.btcturk_graph_base_url))

    probes.append(_balance_probe(settings, config))
    return ExchangeReport(tuple(probes), rules, by_volume)


def _book_probe(client: Any, symbol: str, server_now_ms: Callable[[], float], max_age: int, down_fix: str) -> Probe:
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
    from btcbot_pipeline.domain.market import spread_bps_of

    timer = _Timer()
    try:
        book = client.order_book(symbol, limit=25)
    except BtcturkError as exc:
        return Probe(
            "orderbook",
            FAIL if _unreachable(exc) else WARN,
            timer.ms(),
            f"{symbol} order book unusable: {exc}",
            _fix(exc, down_fix, f"cycles skip {symbol} (exchange_error:orderbook) while this lasts"),
        )
    bid, ask = book.best_bid, book.best_ask
    age = _age_s(server_now_ms(), book.timestamp)
    values = {"symbol": symbol, "best_bid": bid, "best_ask": ask, "age_s": age}
    if bid is None or ask is None:
        return Probe(
            "orderbook",
            WARN,
            timer.ms(),
            f"{symbol} order book has no {'bids' if bid is None else 'asks'}",
            f"cycles skip {symbol} while its book is empty",
            values,
        )
    if bid > ask:
        return Probe(
            "orderbook",
            WARN,
            timer.ms(),
            f"{symbol} crossed book: bid {bid} > ask {ask}",
            f"cycles skip {symbol} (crossed_book) while this lasts",
            values,
        )
    spread = spread_bps_of(bid, ask)
    values["spread_bps"] = None if spread is None else spread.quantize(_BPS_GRID)
    detail = (
        f"{symbol} bid {bid} ask {ask} (spread {values['spread_bps']} bps), {age if age is not None else '?'} s old"
    )
    if age is None or age > max_age:
        return Probe(
            "orderbook",
            WARN,
            timer.ms(),
            f"stale data: {detail} (limit STAGE7_MAX_DATA_AGE_SEC={max_age})",
            f"cycles skip {symbol} (stale_data) while its book is not updating",
            values,
        )
    return Probe("orderbook", PASS, timer.ms(), detail, values=values)


def _candle_probe(client: Any, symbol: str, server_now_ms: Callable[[], float], graph_url: str) -> Probe:
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError

    timer = _Timer()
    end = int(server_now_ms() // 1000)
    try:
        bars = client.klines(symbol, resolution_min=1, start_s=end - CANDLE_WINDOW_MIN * 60, end_s=end)
    except BtcturkError as exc:
        if _unreachable(exc):
            return Probe(
                "candles",
                FAIL,
                timer.ms(),
                f"graph API unreachable: {exc}",
                f"check that BTCTURK_GRAPH_BASE_URL={graph_url} is reachable: without candles every pair is skipped",
            )
        return Probe(
            "candles",
            WARN,
            timer.ms(),
            f"{symbol} candles unusable: {exc}",
            f"cycles skip {symbol} (exchange_error:klines) while this lasts",
        )
    closed = [b for b in bars if b.time + 60 <= end]
    if not closed:
        return Probe(
            "candles",
            WARN,
            timer.ms(),
            f"stale data: no 1-minute {symbol} candle closed in the last {CANDLE_WINDOW_MIN} minutes",
            "the graph API has no recent bars for this pair: volatility falls back to the ticker",
            {"symbol": symbol, "bars": 0},
        )
    age = end - (closed[-1].time + 60)
    return Probe(
        "candles",
        PASS,
        timer.ms(),
        f"{symbol} {len(closed)} one-minute bars in the last {CANDLE_WINDOW_MIN} min, newest closed {age} s ago",
        values={"symbol": symbol, "bars": len(closed), "age_s": age},
    )


def _balance_probe(settings: Any, config: Any) -> Probe:
    from btcbot_pipeline.adapters.btcturk.client import BtcturkReadClient
    from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
    from btcbot_pipeline.adapters.btcturk.signing import Credentials, CredentialsError

    if settings.btcturk_api_key is None or settings.btcturk_api_secret is None:
        return Probe(
            "balances", SKIP, 0.0, "no BTCTURK_API_KEY/BTCTURK_API_SECRET: a new book opens from DRY_RUN_TRY_BALANCE"
        )
    timer = _Timer()
    fix = (
        "check BTCTURK_API_KEY and BTCTURK_API_SECRET (read permission, IP whitelist); "
        "meanwhile a new book opens from DRY_RUN_TRY_BALANCE"
    )
    try:
        with BtcturkReadClient(Credentials(settings.btcturk_api_key, settings.btcturk_api_secret), config) as client:
            rows = client.balances()
    except CredentialsError as exc:  # its message names the variable, never the value
        return Probe("balances", WARN, timer.ms(), f"credentials unusable: {exc}", fix)
    except BtcturkError as exc:
        return Probe("balances", FAIL if _unreachable(exc) else WARN, timer.ms(), f"balances read failed: {exc}", fix)
    held = sorted(b.asset.upper() for b in rows if b.balance)
    quote = settings.stage7_universe_quote_ccy
    return Probe(
        "balances",
        PASS,
        timer.ms(),
        f"{len(rows)} assets, {len(held)} held ({quote} {'held' if quote in held else 'not held'}); amounts not shown",
        values={"assets": len(rows), "held": len(held)},
    )


def probe_replay(settings: Any, dataset: str | None = None) -> tuple[Probe, ...]:
    """``dataset`` (``replay-validate``) and ``coverage`` (books against the partitions)."""
    from btcbot_pipeline.adapters.replay.span import dataset_span
    from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset

    path = dataset or settings.replay_dataset_path
    timer = _Timer()
    report = validate_replay_dataset(path)
    if report.errors:
        codes = sorted({i.code for i in report.errors})
        return (
            Probe(
                "dataset",
                FAIL,
                timer.ms(),
                f"{len(report.errors)} error(s) in {path}: {', '.join(codes)}",
                f"run `btcbot replay-validate --dataset {path}` and repair the files it names (or `btcbot "
                "replay-init`)",
                {"errors": len(report.errors), "codes": codes},
            ),
        )
    values: dict[str, Any] = {"symbols": len(report.symbols), "warnings": len(report.warnings)}
    if report.warnings:
        codes = sorted({i.code for i in report.warnings})
        dataset_probe = Probe(
            "dataset",
            WARN,
            timer.ms(),
            f"{len(report.symbols)} symbols, {len(report.warnings)} warning(s): {', '.join(codes)}",
            f"see `btcbot replay-validate --dataset {path}`",
            values,
        )
    else:
        dataset_probe = Probe("dataset", PASS, timer.ms(), f"{len(report.symbols)} symbols, no issues", values=values)
    timer = _Timer()
    span = dataset_span(path)
    if span is None:
        return dataset_probe, Probe(
            "coverage",
            FAIL,
            timer.ms(),
            "no order book row can be read",
            f"see `btcbot replay-validate --dataset {path}`",
        )
    start = utc.parse_minute(settings.cycle_partitions_start)
    end = utc.parse_minute(settings.cycle_partitions_end) if settings.cycle_partitions_end else None
    books = f"books {utc.minute_text(span.first)} … {utc.minute_text(span.last)} UTC"
    values = {"first": utc.iso(span.first), "last": utc.iso(span.last)}
    if span.last < start or (end is not None and end <= span.first):
        window = f"{settings.cycle_partitions_start} … {settings.cycle_partitions_end or 'open'}"
        return dataset_probe, Probe(
            "coverage",
            FAIL,
            timer.ms(),
            f"{books}; no cycle partition ({window}) has data",
            f"set CYCLE_PARTITIONS_START={utc.minute_text(span.first)} and CYCLE_PARTITIONS_END="
            f"{utc.minute_text(span.last + timedelta(minutes=1))} (the dataset's span)",
            values,
        )
    return dataset_probe, Probe(
        "coverage", PASS, timer.ms(), f"{books}; partitions from {settings.cycle_partitions_start}", values=values
    )


def run_health(
    env_file: str | None = ".env",
    *,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
    overrides: dict[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Health:
    """Load the settings and probe their source; a settings refusal is one FAIL probe."""
    from btcbot_pipeline.settings import SettingsError, load_settings

    timer = _Timer()
    try:
        settings = load_settings(env_file, **(overrides or {}))
    except SettingsError as exc:
        return Health(
            "unknown",
            env_file or "environment",
            (
                Probe(
                    "settings",
                    FAIL,
                    timer.ms(),
                    " | ".join(exc.problems[:3]),
                    "fix the variables named above in the environment or .env",
                ),
            ),
        )
    if settings.market_data_source == "btcturk":
        report = probe_exchange(settings, max_skew_ms=max_skew_ms, clock=clock)
        return Health("btcturk", settings.btcturk_base_url, report.probes)
    return Health("replay", settings.replay_dataset_path, probe_replay(settings))
