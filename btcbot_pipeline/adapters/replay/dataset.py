"""A replay dataset on disk, read once and queried per cycle without look-ahead.

Inside:

- :class:`ReplayDatasetError`: the folder cannot be replayed at all (``code`` + ``path``).
- :class:`ReplayDataset`: ``load(path)`` then ``snapshot_at(cycle_ts)`` → ``MarketSnapshot``,
  or ``snapshots(cycle_times)`` → finalized snapshots of a whole range in one sweep.

Layout (the seeds' ``replay-init`` / ``replay-capture`` format, read unchanged)::

    <root>/candles/<SYMBOL>.csv     ts,open,high,low,close,volume           required
    <root>/orderbook/<SYMBOL>.csv   ts,best_bid,best_ask                    required
    <root>/ticker/<SYMBOL>.csv      ts,last,high,low,volume[,quote_volume]  optional
    <root>/exchangeinfo.json        BTCTurk exchangeinfo, envelope optional optional

A row stamped ``ts`` is known from ``ts`` on: a candle's ``ts`` is the time its close was
observed (the end of the bar). ``snapshot_at(t)`` only uses rows with ``ts <= t``.

Problems with one symbol's files never stop the dataset: the symbol stays, and each of its
snapshots says ``skip_reason="invalid_data:<code>"`` with the first error's code.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import accumulate, repeat
from operator import sub
from pathlib import Path

from btcbot_pipeline.adapters.replay.columns import DecimalColumn
from btcbot_pipeline.adapters.replay.csvio import (
    ERROR,
    SeriesFile,
    ValidationIssue,
    to_datetime,
    to_epoch_us,
)
from btcbot_pipeline.adapters.replay.validate import DatasetScan, scan_dataset
from btcbot_pipeline.domain.bounds import CHANGE_PCT, QUOTE_VOLUME, out_of_range_reason
from btcbot_pipeline.domain.market import (
    MarketSnapshot,
    SymbolRules,
    SymbolSnapshot,
    assess_fields,
    bound_snapshot,
    rules_out_of_range,
    symbol_snapshot,
)
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.errors import BtcbotError

_DAY_US = 86_400_000_000
_SECOND_US = 1_000_000
_HUNDRED = Decimal(100)
_NO_OFFSET = timedelta(0)
# Percentages are ratios, not money: 28 digits, banker's rounding, independent of whatever
# decimal context the calling thread has set.
_RATIO_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)


class ReplayDatasetError(BtcbotError):
    """The dataset as a whole cannot be replayed.

    Attributes:
        code: ``dataset_missing``, ``dataset_not_directory``, ``missing_candles_folder``,
            ``missing_orderbook_folder``, ``missing_candles_files``,
            ``missing_orderbook_files``, ``no_symbols`` or ``no_orderbook_rows``.
        path: the file or folder concerned.
        detail: what was found.
    """

    def __init__(self, code: str, detail: str, path: str) -> None:
        self.code = code
        self.detail = detail
        self.path = path
        super().__init__(f"{code}: {detail} ({path})")


class ReplayDataset:
    """A dataset parsed into per-symbol sorted columns, for fast no-look-ahead snapshots.

    Build with :meth:`load`. Every file is parsed once and its numbers kept as exact text
    (:class:`~btcbot_pipeline.adapters.replay.columns.DecimalColumn`); the trailing-24h
    window of every candle is located once, so :meth:`snapshot_at` costs a few binary
    searches per symbol, and :meth:`snapshots` a few forward steps per symbol and cycle,
    plus the few Decimals each snapshot shows.
    """

    __slots__ = ("_root", "_symbols", "_series", "_issues", "_rules", "_start", "_end")

    def __init__(self, scan: DatasetScan) -> None:
        if scan.fatal is not None or scan.files is None or scan.rules is None:
            raise ValueError("ReplayDataset needs a scan without fatal issues; use load()")
        self._root = scan.root
        self._symbols = scan.symbols
        self._rules = scan.rules
        self._issues = tuple(i for i in scan.issues if i.severity == ERROR)
        self._series = tuple(
            _SymbolSeries(
                symbol,
                rules=scan.rules.get(symbol),
                error=scan.symbol_error(symbol),
                book=scan.files["orderbook"].get(symbol),
                candles=scan.files["candles"].get(symbol),
                ticker=scan.files["ticker"].get(symbol),
            )
            for symbol in scan.symbols
        )
        book_ts = [s.ts for s in scan.files["orderbook"].values() if s.ts]
        self._start = to_datetime(min(ts[0] for ts in book_ts))
        self._end = to_datetime(max(ts[-1] for ts in book_ts))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReplayDataset:
        """Read the dataset at ``path``.

        Raises:
            ReplayDatasetError: if the folder, a required subfolder or every symbol file
                is missing, or no orderbook row can be read. Problems of single symbols
                do not raise; see :attr:`issues`.
        """
        scan = scan_dataset(path, reuse_last=True)  # the files a validation just read are not read again
        if scan.fatal is not None:
            where = scan.root if scan.fatal.path == "." else scan.root / scan.fatal.path
            raise ReplayDatasetError(scan.fatal.code, scan.fatal.detail, str(where))
        return cls(scan)

    @property
    def root(self) -> Path:
        return self._root

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol with a candles or orderbook file, sorted (invalid ones included)."""
        return self._symbols

    @property
    def issues(self) -> tuple[ValidationIssue, ...]:
        """Errors found in single symbols' files or in ``exchangeinfo.json``."""
        return self._issues

    @property
    def start(self) -> datetime:
        """Earliest orderbook row (UTC)."""
        return self._start

    @property
    def end(self) -> datetime:
        """Latest orderbook row (UTC)."""
        return self._end

    @property
    def rules(self) -> dict[str, SymbolRules]:
        """Exchange rules by symbol from ``exchangeinfo.json`` (empty without one)."""
        return dict(self._rules)

    def __repr__(self) -> str:
        return (
            f"ReplayDataset({str(self._root)!r}, symbols={len(self._symbols)}, "
            f"start={self._start.isoformat()}, end={self._end.isoformat()})"
        )

    def snapshot_at(
        self, cycle_ts: datetime, *, vol_lookback: int = 20, max_data_age_s: int = 60, bar_seconds: int | None = None
    ) -> MarketSnapshot:
        """The market as known at ``cycle_ts``: only rows with ``ts <= cycle_ts`` are used.

        Args:
            cycle_ts: the cycle time, timezone-aware with a zero UTC offset.
            vol_lookback: closes kept per symbol are the last ``vol_lookback + 1``.
            max_data_age_s: passed to ``assess_symbol``; older data → ``stale_data``.
            bar_seconds: also give each symbol the bar of the candles in
                ``(cycle_ts - bar_seconds, cycle_ts]`` (the limit fill model); ``None``: no bars.

        Returns:
            One :class:`SymbolSnapshot` per symbol, sorted. ``data_ts`` is the older of the
            newest orderbook row and the newest candle used, since staleness is set by the
            weakest required source. Without a ticker row, last/high/low/quote volume/change
            come from the candles in ``(cycle_ts - 24h, cycle_ts]``.

        Raises:
            ValueError: if ``cycle_ts`` is naive or not UTC, or ``vol_lookback`` < 0.
        """
        if cycle_ts.tzinfo is None or cycle_ts.utcoffset() != _NO_OFFSET:
            raise ValueError(f"cycle_ts must be timezone-aware UTC, was {cycle_ts!r}")
        if vol_lookback < 0:
            raise ValueError(f"vol_lookback must be >= 0, was {vol_lookback}")
        now_us = to_epoch_us(cycle_ts)
        bar_us = None if bar_seconds is None else bar_seconds * _SECOND_US
        snapshots = tuple(s.at(now_us, vol_lookback + 1, max_data_age_s, bar_us) for s in self._series)
        return MarketSnapshot(cycle_ts=cycle_ts, symbols=snapshots, source="replay")

    def snapshots(
        self,
        cycle_times: Sequence[datetime],
        *,
        vol_lookback: int = 20,
        max_data_age_s: int = 60,
        bar_seconds: int | None = None,
    ) -> list[MarketSnapshot]:
        """Finalized snapshots for many cycle times at once, in the order given.

        Each equals ``finalize_snapshot(self.snapshot_at(t, ...), max_data_age_s=...)``:
        every symbol is assessed and they are sorted. Instead of binary searches over
        whole files per cycle, each symbol's rows are swept once in time order, so a
        backtest of thousands of cycles pays for its rows about once.

        Raises:
            ValueError: as :meth:`snapshot_at`, for the first bad cycle time.
        """
        if vol_lookback < 0:
            raise ValueError(f"vol_lookback must be >= 0, was {vol_lookback}")
        for cycle_ts in cycle_times:
            if cycle_ts.tzinfo is None or cycle_ts.utcoffset() != _NO_OFFSET:
                raise ValueError(f"cycle_ts must be timezone-aware UTC, was {cycle_ts!r}")
        stamps = [to_epoch_us(t) for t in cycle_times]
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        ascending = [stamps[i] for i in order]
        moments: dict[int, datetime] = {}
        bar_us = None if bar_seconds is None else bar_seconds * _SECOND_US
        columns = [s.sweep(ascending, vol_lookback + 1, max_data_age_s, moments, bar_us) for s in self._series]
        by_time = list(zip(*columns)) if columns else [()] * len(stamps)
        out: list[MarketSnapshot | None] = [None] * len(stamps)
        for position, symbols in zip(order, by_time):
            out[position] = MarketSnapshot(cycle_ts=cycle_times[position], symbols=symbols, source="replay")
        return out  # type: ignore[return-value]


def _percent_change(first: Decimal, last: Decimal) -> Decimal | None:
    if first == ZERO:
        return None
    # Only the division rounds; the difference and the ×100 are exact in the money context.
    scaled = MONEY_CONTEXT.multiply(MONEY_CONTEXT.subtract(last, first), _HUNDRED)
    return _RATIO_CONTEXT.divide(scaled, first)


class _SymbolSeries:
    """One symbol's columns plus what the trailing-24h statistics need.

    The numbers stay :class:`~btcbot_pipeline.adapters.replay.columns.DecimalColumn` text,
    as read: a cycle builds the few Decimals its snapshot shows (book, ticker, closes,
    bar), which costs far less than holding every bar of every series as Decimal objects
    for the whole run. Per candle only positions are precomputed (the first candle of its
    24h window and the window's high and low), and the exact running quote volume as text.
    The closes last handed out are kept, so consecutive snapshots share the very same close
    objects (the volatility memo of ``domain/universe.py`` reuses work only for those).
    """

    __slots__ = (
        "symbol", "rules", "reason", "invalid",
        "b_ts", "bid", "ask",
        "c_ts", "c_open", "c_high", "c_low", "c_close", "c_volume", "c_qv_prefix",
        "w_lo", "w_high", "w_low",
        "t_ts", "t_last", "t_high", "t_low", "t_volume", "t_quote", "t_direct", "t_open",
        "_closes",
    )  # fmt: skip

    def __init__(
        self,
        symbol: str,
        *,
        rules: SymbolRules | None,
        error: ValidationIssue | None,
        book: SeriesFile | None,
        candles: SeriesFile | None,
        ticker: SeriesFile | None,
    ) -> None:
        self.symbol = symbol
        self.rules = rules
        self.reason = None if error is None else error.reason
        if self.reason is None and rules is not None:
            field = rules_out_of_range(rules)  # e.g. a numeratorScale of 60: never resolved
            if field is not None:
                self.reason = out_of_range_reason(field)
                rules = self.rules = None
        if self.reason is None and (book is None or candles is None):
            # scan_dataset records missing_*_file for this case; kept as a guard so a
            # half-built series can never be queried.
            missing = "orderbook" if book is None else "candles"
            self.reason = f"invalid_data:missing_{missing}_file"
        if self.reason is not None or book is None or candles is None:
            # Frozen, so every cycle can share the one snapshot of an unreadable symbol.
            self.invalid = SymbolSnapshot(symbol=symbol, rules=rules, skip_reason=self.reason)
            return
        self.b_ts = tuple(book.ts)
        self.bid = book.columns["best_bid"]
        self.ask = book.columns["best_ask"]
        self._closes: tuple[int, tuple[Decimal, ...]] = (0, ())  # first index, the closes last handed out
        self._init_candles(candles)
        self._init_ticker(ticker)

    def _init_candles(self, candles: SeriesFile) -> None:
        self.c_ts = tuple(candles.ts)
        cols = candles.columns
        self.c_open, self.c_high, self.c_low, self.c_close, self.c_volume = (
            cols[name] for name in ("open", "high", "low", "close", "volume")
        )
        # The candles' 24-hour windows serve only a cycle without a ticker row (see
        # _window): worked out on first use, so a dataset with ticker files never pays.
        self.w_lo = self.w_high = self.w_low = self.c_qv_prefix = None

    def _init_windows(self) -> None:
        """Each candle's 24-hour window (its first candle, the candles of its high and low)
        and the prefix sums of close × volume, for :meth:`_window`."""
        ts = self.c_ts
        # Decimals for this symbol only while its positions are worked out.
        highs, lows = list(self.c_high), list(self.c_low)
        # Prefix sums in the 60-digit money context stay exact, so a window's sum is one
        # subtraction and equals the row-by-row sum to the last digit.
        products = map(MONEY_CONTEXT.multiply, self.c_close, self.c_volume)
        prefix = DecimalColumn.of(accumulate(products, MONEY_CONTEXT.add, initial=ZERO))
        # The window of candle i is (ts[i] - 24h, ts[i]]: it starts after every stamp <= ts[i] - 24h.
        w_lo = array("i", map(bisect_right, repeat(ts), map(sub, ts, repeat(_DAY_US))))
        w_high = array("i")  # the candle whose high is the window's (ties: the newest)
        w_low = array("i")
        high_q: deque[int] = deque()  # indices with decreasing highs (ties: the newest kept)
        low_q: deque[int] = deque()  # indices with increasing lows (ties: the newest kept)
        for i, lo in enumerate(w_lo):
            high, low = highs[i], lows[i]
            while high_q and highs[high_q[-1]] <= high:  # type: ignore[operator]
                high_q.pop()
            high_q.append(i)
            while high_q[0] < lo:
                high_q.popleft()
            while low_q and lows[low_q[-1]] >= low:  # type: ignore[operator]
                low_q.pop()
            low_q.append(i)
            while low_q[0] < lo:
                low_q.popleft()
            w_high.append(high_q[0])
            w_low.append(low_q[0])
        self.w_high, self.w_low, self.c_qv_prefix = w_high, w_low, prefix
        self.w_lo = w_lo  # last: _window takes a set w_lo for all four set

    def _init_ticker(self, ticker: SeriesFile | None) -> None:
        if ticker is None:
            self.t_ts: tuple[int, ...] = ()
            return
        cols = ticker.columns
        self.t_ts = tuple(ticker.ts)
        self.t_last, self.t_high, self.t_low, self.t_volume = (cols[name] for name in ("last", "high", "low", "volume"))
        # Optional columns; a blank cell (None) is derived per read, as it was per row.
        optional = ("quote_volume", "daily_change_pct", "open")
        self.t_quote, self.t_direct, self.t_open = (cols.get(name) for name in optional)

    def _ticker_row(self, it: int, ic: int, close: Decimal | None) -> tuple[Decimal | None, ...]:
        """last, high, low, quote volume and change % of ticker row ``it`` (a missing quote
        volume is volume × last; a missing change is from the row's open, else ``None``).
        A last written as candle ``ic``'s close is that ``close`` object, not a copy: the
        cycle rows a chunk holds until its gates pass keep one object for both."""
        if ic >= 0 and self.t_last.text(it) == self.c_close.text(ic):
            last = close
        else:
            last = self.t_last.value(it)
        quote = None if self.t_quote is None else self.t_quote.value(it)
        if quote is None:
            quote = MONEY_CONTEXT.multiply(self.t_volume.value(it), last)  # type: ignore[arg-type]
        change = None if self.t_direct is None else self.t_direct.value(it)
        if change is None and self.t_open is not None:
            first = self.t_open.value(it)
            change = None if first is None else _percent_change(first, last)  # type: ignore[arg-type]
        return last, self.t_high.value(it), self.t_low.value(it), quote, change  # type: ignore[return-value]

    def _closes_to(self, ic: int, n_closes: int) -> tuple[Decimal, ...]:
        """The closes of candles ``ic + 1 - n_closes .. ic``, the objects handed out last time
        reused for the candles both cover."""
        first = max(0, ic + 1 - n_closes)
        seen_first, seen = self._closes
        seen_end = seen_first + len(seen)
        if ic == seen_end and seen_first <= first <= ic:  # the usual step: the next candle, one close more
            closes = (seen if first == seen_first else seen[first - seen_first :]) + (self.c_close.value(ic),)
            self._closes = (first, closes)  # type: ignore[assignment]
            return closes  # type: ignore[return-value]
        if first == seen_first and ic + 1 == seen_end:
            return seen
        column = self.c_close
        if seen_first <= first < seen_end:
            shared = seen[first - seen_first : ic + 1 - seen_first]
            closes = shared + tuple(map(column.value, range(first + len(shared), ic + 1)))  # type: ignore[arg-type]
        else:
            closes = tuple(map(column.value, range(first, ic + 1)))  # type: ignore[arg-type]
        self._closes = (first, closes)
        return closes

    def at(self, now_us: int, n_closes: int, max_data_age_s: int, bar_us: int | None = None) -> SymbolSnapshot:
        """This symbol's snapshot at epoch-µs ``now_us`` (rows with ``ts <= now_us`` only)."""
        return self.sweep([now_us], n_closes, max_data_age_s, {}, bar_us)[0]

    def sweep(
        self,
        stamps: list[int],
        n_closes: int,
        max_data_age_s: int,
        moments: dict[int, datetime],
        bar_us: int | None = None,
    ) -> list[SymbolSnapshot]:
        """The snapshot at every epoch-µs stamp of ``stamps`` (ascending), from the last
        book row, candle and ticker row at or before it. Each row pointer only moves
        forward from where the previous stamp left it. ``moments`` caches epoch-µs →
        datetime across the symbols of one call.

        One loop serves both :meth:`at` and a range, so they cannot disagree; it is
        written flat (few helper calls per stamp) because a backtest runs it for every
        symbol of every cycle. Stamps that share a row share its values.
        """
        if self.reason is not None:
            return [self.invalid] * len(stamps)
        symbol, rules = self.symbol, self.rules
        b_ts, bid_at, ask_at, c_ts, c_open = self.b_ts, self.bid.value, self.ask.value, self.c_ts, self.c_open
        t_ts = self.t_ts
        qv_bound, change_bound = QUOTE_VOLUME, CHANGE_PCT
        out: list[SymbolSnapshot] = []
        ib = ic = it = -1
        lo = 0
        closes: tuple[Decimal, ...] = ()
        closes_ic = book_ib = ticker_it = -2
        book: tuple[Decimal | None, Decimal | None] = (None, None)
        row: tuple[Decimal | None, ...] = ()
        bar: tuple[Decimal | None, ...] = (None, None, None)
        bar_first = 0
        for now_us in stamps:
            ib = bisect_right(b_ts, now_us, ib + 1) - 1
            ic = bisect_right(c_ts, now_us, ic + 1) - 1
            lo = bisect_right(c_ts, now_us - _DAY_US, lo)  # the first candle of (now - 24h, now]
            bid = ask = last = high = low = quote_volume = change = data_ts = staleness = None
            if ib >= 0:
                if ib != book_ib:
                    book, book_ib = (bid_at(ib), ask_at(ib)), ib
                bid, ask = book
            if ic != closes_ic:  # consecutive cycles before the next candle share one tuple
                closes, closes_ic = (self._closes_to(ic, n_closes) if ic >= 0 else ()), ic
            if ic >= 0 and ib >= 0:
                book_us, candle_us = b_ts[ib], c_ts[ic]
                # Staleness is set by the weakest required source.
                data_us = book_us if book_us < candle_us else candle_us
                data_ts = moments.get(data_us)
                if data_ts is None:
                    data_ts = moments[data_us] = to_datetime(data_us)
                staleness = (now_us - data_us) // _SECOND_US
            if t_ts:
                it = bisect_right(t_ts, now_us, it + 1) - 1
            if it >= 0:
                if it != ticker_it:
                    row, ticker_it = self._ticker_row(it, ic, closes[-1] if closes else None), it
                last, high, low, quote_volume, change = row
                if change is None and ic >= 0 and lo <= ic:
                    # The ticker file has no open/change column: the candles' (now - 24h, now].
                    change = _percent_change(c_open.value(lo), closes[-1])  # type: ignore[arg-type]
            elif ic >= 0:
                last, high, low, quote_volume, change = self._window(lo, ic, closes[-1])
            if bar_us is not None:
                # The candles in (now - bar, now]: the trades a resting order could have met
                # since the previous cycle (no candle: no bar). Bars are not bounded below.
                bar_first = bisect_right(c_ts, now_us - bar_us, bar_first)
                bar = self._bar(bar_first, ic + 1)
            reason = assess_fields(data_ts, staleness, bid, ask, max_data_age_s=max_data_age_s)
            snapshot = symbol_snapshot(
                symbol, data_ts, staleness, bid, ask, last, high, low, quote_volume, change, closes, rules, reason, *bar
            )
            # Every row was bounded when read; what is derived from them (a day's quote
            # volume, a change from a tiny open) is checked here, per cycle.
            if (quote_volume is not None and not qv_bound.contains(quote_volume)) or (
                change is not None and not change_bound.contains(change)
            ):
                snapshot = bound_snapshot(snapshot)
            out.append(snapshot)
        return out

    def _bar(self, first: int, end: int) -> tuple[Decimal | None, ...]:
        """Low, high and base volume of the candles ``first .. end - 1`` (``None`` without one)."""
        if end - first == 1:  # the usual case: one candle a cycle
            return self.c_low.value(first), self.c_high.value(first), self.c_volume.value(first)
        if first >= end:
            return None, None, None
        return (
            min(self.c_low[first:end]),  # type: ignore[type-var]
            max(self.c_high[first:end]),  # type: ignore[type-var]
            sum(self.c_volume[first:end], ZERO),  # type: ignore[arg-type]
        )

    def _window(self, lo: int, ic: int, close: Decimal) -> tuple[Decimal | None, ...]:
        """last, high, low, quote volume, change % of the candles ``lo .. ic`` (those in
        ``(now - 24h, now]`` when ``lo`` is the first candle after ``now - 24h``); ``close``
        is candle ``ic``'s."""
        if lo > ic:
            return close, None, None, ZERO, None
        if self.w_lo is None:
            self._init_windows()
        if lo == self.w_lo[ic]:  # type: ignore[index]
            # The usual case: the cycle falls before the next candle, so the window ending
            # at the cycle holds the same candles as the one ending at the bar.
            high, low = self.c_high.value(self.w_high[ic]), self.c_low.value(self.w_low[ic])  # type: ignore[index]
        else:
            high, low = max(self.c_high[lo : ic + 1]), min(self.c_low[lo : ic + 1])  # type: ignore[type-var]
        prefix: DecimalColumn = self.c_qv_prefix  # type: ignore[assignment]
        return (
            close,
            high,
            low,
            MONEY_CONTEXT.subtract(prefix.value(ic + 1), prefix.value(lo)),  # type: ignore[arg-type]
            _percent_change(self.c_open.value(lo), close),  # type: ignore[arg-type]
        )
