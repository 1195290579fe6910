"""A deterministic synthetic replay dataset (``replay-init``).

Inside: :func:`init_replay_dataset` → :class:`SynthSummary`, and :data:`DEFAULT_PAIRS`.

Each pair follows a geometric random walk of its mid price, one step per minute, with 2026
TRY price levels, per-pair volatility, spread and daily traded value. Everything is drawn
from ``random.Random`` seeded with ``"<seed>/<symbol>"`` and computed in ``Decimal`` under a
fixed context: no wall clock, no floats, no libm, so the same arguments give byte-identical
files on any machine, and a pair's series does not depend on which other pairs are asked for.

What is written (rows every minute from ``start``; a candle stamped ``t`` covers
``(t - 60 s, t]``, so its close and the book at ``t`` are known at ``t``):

- ``candles/<SYMBOL>.csv``: OHLCV with ``low <= open, close <= high``, prices on the tick grid;
- ``orderbook/<SYMBOL>.csv``: best bid/ask a few basis points around the close;
- ``ticker/<SYMBOL>.csv``: trailing-24h last/high/low/volume/quote_volume over the candles
  written so far (so a reader deriving them from the candles gets the same numbers);
- ``exchangeinfo.json``: the real BTCTurk response shape, envelope included;
- ``README.md`` and ``schema.json``.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from pathlib import Path

from btcbot_pipeline.adapters.replay.csvio import SCHEMAS, to_epoch_us
from btcbot_pipeline.adapters.replay.exchangeinfo import exchangeinfo_document, exchangeinfo_symbol
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.domain.vocabulary import canonical_symbol

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
MIN_EXCHANGE_VALUE = "99.91"  # minExchangeValue of every TRY pair in real captures

_MINUTES_PER_DAY = 1440
_DRAW_BITS = 24
_DRAWS = 6  # Irwin-Hall: the sum of 6 uniforms is close enough to normal for a price walk
_DRAW_MEAN = Decimal(_DRAWS * ((1 << _DRAW_BITS) - 1)) / 2
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
_DRAW_SD = _CONTEXT.sqrt(Decimal(_DRAWS * ((1 << (2 * _DRAW_BITS)) - 1)) / 12)
_SQRT_DAY = _CONTEXT.sqrt(Decimal(_MINUTES_PER_DAY))
_QUOTES = ("USDT", "TRY", "BTC", "ETH")


@dataclass(frozen=True, slots=True)
class PairSpec:
    """How one synthetic pair behaves.

    Attributes:
        symbol: e.g. ``BTCTRY``.
        price: starting mid in the quote currency.
        tick: price grid (``tickSize``); ``denominatorScale`` is its number of decimals.
        quantity_scale: ``numeratorScale``, decimals of base quantities.
        daily_volatility_pct: standard deviation of one day's return, in percent.
        spread_bps: typical best-ask minus best-bid, in basis points of the mid.
        daily_quote_volume: typical traded value per day in the quote currency.
    """

    symbol: str
    price: Decimal
    tick: Decimal
    quantity_scale: int
    daily_volatility_pct: Decimal
    spread_bps: Decimal
    daily_quote_volume: Decimal

    @property
    def base(self) -> str:
        return _split(self.symbol)[0]

    @property
    def quote(self) -> str:
        return _split(self.symbol)[1]

    @property
    def price_decimals(self) -> int:
        return max(0, -int(self.tick.as_tuple().exponent))  # type: ignore[arg-type]


def _pair(symbol: str, price: str, tick: str, qty: int, vol: str, spread: str, value: str) -> PairSpec:
    return PairSpec(symbol, Decimal(price), Decimal(tick), qty, Decimal(vol), Decimal(spread), Decimal(value))


# Early-2026 TRY levels (USDTTRY ≈ 42); liquidity ranks roughly as on BTCTurk.
DEFAULT_PAIRS: dict[str, PairSpec] = {
    p.symbol: p
    for p in (
        _pair("ADATRY", "30", "0.001", 2, "5.0", "6", "150000000"),
        _pair("AVAXTRY", "1300", "0.01", 4, "5.5", "8", "80000000"),
        _pair("BTCTRY", "3800000", "1", 8, "2.5", "2", "2500000000"),
        _pair("DOGETRY", "6", "0.0001", 2, "6.0", "6", "200000000"),
        _pair("DOTTRY", "250", "0.01", 4, "5.5", "10", "40000000"),
        _pair("ETHTRY", "130000", "1", 8, "3.5", "3", "900000000"),
        _pair("LINKTRY", "700", "0.01", 4, "5.0", "8", "60000000"),
        _pair("LTCTRY", "3500", "0.1", 6, "4.0", "10", "40000000"),
        _pair("SOLTRY", "6000", "0.1", 4, "5.0", "5", "300000000"),
        _pair("TRXTRY", "10", "0.0001", 2, "3.0", "8", "50000000"),
        _pair("USDTTRY", "42", "0.001", 2, "0.3", "1.5", "6000000000"),
        _pair("XRPTRY", "90", "0.001", 2, "4.5", "4", "700000000"),
    )
}


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What :func:`init_replay_dataset` wrote.

    Attributes:
        path: the dataset folder.
        symbols: the pairs written, sorted.
        rows: rows per CSV file (one per minute).
        start / end: first and last row time (UTC).
    """

    path: Path
    symbols: tuple[str, ...]
    rows: int
    start: datetime
    end: datetime


def init_replay_dataset(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: datetime = DEFAULT_START,
    minutes: int = _MINUTES_PER_DAY,
    symbols: Sequence[str] | None = None,
    with_ticker: bool = True,
    with_exchangeinfo: bool = True,
) -> SynthSummary:
    """Write a synthetic dataset to ``path`` (created if needed).

    Args:
        path: the dataset folder.
        seed: the random seed; same arguments → byte-identical files.
        start: time of the first row, timezone-aware UTC.
        minutes: rows per file, one per minute.
        symbols: pairs to write (canonicalised, deduplicated); names outside
            :data:`DEFAULT_PAIRS` get a generic profile. ``None`` → all default pairs.
        with_ticker: write ``ticker/``; without it readers derive 24h stats from candles.
        with_exchangeinfo: write ``exchangeinfo.json``.

    Raises:
        ValueError: for a naive or non-UTC ``start``, ``minutes`` < 1, no symbols, or a
            symbol whose quote currency is not TRY/USDT/BTC/ETH.
        FileExistsError: if ``path`` already holds dataset files this call would not
            overwrite (other symbols, a ticker/ or exchangeinfo.json left out this time);
            mixing them would silently change the dataset.
    """
    if start.tzinfo is None or start.utcoffset() != timedelta(0):
        raise ValueError(f"start must be timezone-aware UTC, was {start!r}")
    if minutes < 1:
        raise ValueError(f"minutes must be >= 1, was {minutes}")
    specs = _specs(symbols)
    root = Path(path)
    kinds = ["candles", "orderbook"] + (["ticker"] if with_ticker else [])
    _refuse_foreign_files(root, specs, kinds, with_exchangeinfo)

    times = [start + timedelta(minutes=i) for i in range(minutes)]
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]
    for kind in kinds:
        (root / kind).mkdir(parents=True, exist_ok=True)
    with localcontext(_CONTEXT):
        for spec in specs:
            files = _generate(spec, stamps, random.Random(f"{seed}/{spec.symbol}"))
            for kind in kinds:
                _write_text(root / kind / f"{spec.symbol}.csv", files[kind])
    if with_exchangeinfo:
        _write_text(root / "exchangeinfo.json", _exchange_info(specs, start))
    _write_text(root / "schema.json", _schema())
    readme = _readme(seed, start, minutes, specs, with_ticker, with_exchangeinfo)
    _write_text(root / "README.md", readme)
    return SynthSummary(root, tuple(s.symbol for s in specs), minutes, times[0], times[-1])


def _split(symbol: str) -> tuple[str, str]:
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(f"cannot tell the quote currency of {symbol!r}; use a TRY, USDT, BTC or ETH pair")


def _specs(symbols: Sequence[str] | None) -> list[PairSpec]:
    if symbols is None:
        return list(DEFAULT_PAIRS.values())
    names = sorted({canonical_symbol(s) for s in symbols if s.strip()})
    if not names:
        raise ValueError("symbols must name at least one pair")
    specs = []
    for name in names:
        _split(name)
        generic = _pair(name, "100", "0.01", 4, "5.0", "10", "20000000")
        specs.append(DEFAULT_PAIRS.get(name, generic))
    return specs


def _refuse_foreign_files(root: Path, specs: list[PairSpec], kinds: list[str], with_info: bool) -> None:
    ours = {f"{s.symbol}.csv" for s in specs}
    foreign = []
    for kind in SCHEMAS:
        folder = root / kind
        if folder.is_dir():
            foreign += [
                f"{kind}/{f.name}" for f in sorted(folder.glob("*.csv")) if kind not in kinds or f.name not in ours
            ]
    if not with_info and (root / "exchangeinfo.json").exists():
        foreign.append("exchangeinfo.json")
    if foreign:
        raise FileExistsError(
            f"{root} already holds dataset files this init would not replace: "
            f"{', '.join(foreign[:5])}{' …' if len(foreign) > 5 else ''}; "
            "remove them or choose an empty folder"
        )


def _draw(rng: random.Random) -> Decimal:
    """A standard-normal-like draw built from integers only (portable, exact)."""
    total = sum(rng.getrandbits(_DRAW_BITS) for _ in range(_DRAWS))
    return (Decimal(total) - _DRAW_MEAN) / _DRAW_SD


def _uniform(rng: random.Random) -> Decimal:
    return Decimal(rng.getrandbits(16)) / 65536


def _generate(spec: PairSpec, stamps: list[str], rng: random.Random) -> dict[str, str]:
    tick = spec.tick
    price_fmt = f".{spec.price_decimals}f"
    qty_step = Decimal(1).scaleb(-spec.quantity_scale)
    qty_fmt = f".{spec.quantity_scale}f"
    quote_fmt = f".{spec.price_decimals + spec.quantity_scale}f"
    sigma = spec.daily_volatility_pct / 100 / _SQRT_DAY
    wick = sigma / 2
    minute_value = spec.daily_quote_volume / _MINUTES_PER_DAY
    half_spread_bps = spec.spread_bps / 2 / 10_000
    candles = ["ts,open,high,low,close,volume"]
    books = ["ts,best_bid,best_ask"]
    tickers = ["ts,last,high,low,volume,quote_volume"]
    window: deque[tuple[Decimal, Decimal]] = deque()
    highs: deque[tuple[int, Decimal]] = deque()
    lows: deque[tuple[int, Decimal]] = deque()
    volume_sum = quote_sum = ZERO
    mid = spec.price

    def grid(value: Decimal, rounding: str) -> str:
        # Prices go out as text with the tick's decimals; the ticker's high/low reuse them.
        return format((value / tick).to_integral_value(rounding=rounding) * tick, price_fmt)

    for i, stamp in enumerate(stamps):
        close_mid = mid * (1 + sigma * _draw(rng))
        open_, close = grid(mid, ROUND_HALF_EVEN), grid(close_mid, ROUND_HALF_EVEN)
        # Rounding the wicks outward keeps low <= open, close <= high on the tick grid.
        high = grid(max(mid, close_mid) * (1 + wick * _uniform(rng)), ROUND_CEILING)
        low = grid(min(mid, close_mid) * (1 - wick * _uniform(rng)), ROUND_FLOOR)
        value = minute_value * (Decimal("0.25") + Decimal("1.5") * _uniform(rng))
        volume = (value / close_mid).quantize(qty_step, rounding=ROUND_FLOOR)
        spread_factor = Decimal("0.6") + Decimal("0.8") * _uniform(rng)
        half_spread = close_mid * half_spread_bps * spread_factor
        bid = grid(close_mid - half_spread, ROUND_FLOOR)
        ask = grid(close_mid + half_spread, ROUND_CEILING)
        mid = close_mid

        # Trailing 24 h = the last 1440 one-minute candles, kept with running sums and
        # monotonic deques so the whole day costs O(rows).
        high_d, low_d = Decimal(high), Decimal(low)
        quote = MONEY_CONTEXT.multiply(Decimal(close), volume)
        window.append((volume, quote))
        volume_sum = MONEY_CONTEXT.add(volume_sum, volume)
        quote_sum = MONEY_CONTEXT.add(quote_sum, quote)
        if len(window) > _MINUTES_PER_DAY:
            old_volume, old_quote = window.popleft()
            volume_sum = MONEY_CONTEXT.subtract(volume_sum, old_volume)
            quote_sum = MONEY_CONTEXT.subtract(quote_sum, old_quote)
        while highs and highs[-1][1] <= high_d:
            highs.pop()
        highs.append((i, high_d))
        while lows and lows[-1][1] >= low_d:
            lows.pop()
        lows.append((i, low_d))
        oldest = i - _MINUTES_PER_DAY + 1
        while highs[0][0] < oldest:
            highs.popleft()
        while lows[0][0] < oldest:
            lows.popleft()

        candles.append(f"{stamp},{open_},{high},{low},{close},{format(volume, qty_fmt)}")
        books.append(f"{stamp},{bid},{ask}")
        tickers.append(
            f"{stamp},{close},{format(highs[0][1], price_fmt)},{format(lows[0][1], price_fmt)},"
            f"{format(volume_sum, qty_fmt)},{format(quote_sum, quote_fmt)}"
        )
    return {
        "candles": "\n".join(candles) + "\n",
        "orderbook": "\n".join(books) + "\n",
        "ticker": "\n".join(tickers) + "\n",
    }


def _exchange_info(specs: list[PairSpec], start: datetime) -> str:
    symbols = [
        exchangeinfo_symbol(
            index,
            spec.symbol,
            spec.base,
            spec.quote,
            quantity_scale=spec.quantity_scale,
            price_scale=spec.price_decimals,
            max_price="10000000",
            tick_size=str(spec.tick),
            min_notional=MIN_EXCHANGE_VALUE,
        )
        for index, spec in enumerate(specs, start=1)
    ]
    assets = sorted({s.base for s in specs} | {s.quote for s in specs})
    payload = exchangeinfo_document(symbols, assets, to_epoch_us(start) // 1000)
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _schema() -> str:
    schema = {
        "candles": list(SCHEMAS["candles"].required),
        "orderbook": list(SCHEMAS["orderbook"].required),
        "ticker": [*SCHEMAS["ticker"].required, "quote_volume"],
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _readme(seed: int, start: datetime, minutes: int, specs: list[PairSpec], ticker: bool, info: bool) -> str:
    skipped = " (not written here)"
    ticker_note, info_note = ("" if ticker else skipped), ("" if info else skipped)
    pairs = "\n".join(f"| {s.symbol} | {s.price} | {s.tick} | {s.quantity_scale} | {s.spread_bps} |" for s in specs)
    return f"""# Replay dataset (synthetic)

Written by `btcbot_pipeline.adapters.replay.synth.init_replay_dataset` with seed {seed},
{minutes} one-minute rows per file from {start.strftime("%Y-%m-%dT%H:%M:%SZ")}. The same
arguments always produce the same bytes.

## Layout

| path | columns | required |
|---|---|---|
| `candles/<SYMBOL>.csv` | `ts,open,high,low,close,volume` | yes |
| `orderbook/<SYMBOL>.csv` | `ts,best_bid,best_ask` | yes |
| `ticker/<SYMBOL>.csv` | `ts,last,high,low,volume[,quote_volume]` | no{ticker_note} |
| `exchangeinfo.json` | BTCTurk `/api/v2/server/exchangeinfo`, envelope optional | no{info_note} |
| `schema.json` | the column lists above | no |

- `ts`: ISO-8601 (`Z` or an offset; naive = UTC), or 10-digit epoch seconds, or 13-digit
  epoch milliseconds. Rows are in time order.
- A row is known from its `ts` on. A candle stamped `t` covers `(t - 60 s, t]`: its close
  is the last price at `t`, so a replay at `t` may use it without looking ahead.
- Numbers are plain decimals (no exponent), prices on the pair's tick grid, quantities
  with `numeratorScale` decimals.
- Ticker rows hold trailing-24h statistics of the candles written so far: `last` = close,
  `high`/`low` = extreme of the bars, `volume` = sum of volumes, `quote_volume` = sum of
  close × volume.

## Pairs

| symbol | start price | tick | quantity decimals | typical spread (bps) |
|---|---|---|---|---|
{pairs}

Check a dataset with `btcbot replay-validate --dataset <path>` (or
`btcbot_pipeline.adapters.replay.validate.validate_replay_dataset`).
"""


def _write_text(path: Path, text: str) -> None:
    # Write then rename, so a reader never sees a half-written file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    tmp.replace(path)
