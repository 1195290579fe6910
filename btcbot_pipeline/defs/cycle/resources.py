"""Resources of the cycle assets: settings, the market-data source and the DuckDB book.

The market-data source is an interface, :class:`MarketDataResource`, with one
implementation per venue: :class:`ReplayMarketData` (a recorded dataset) and
:class:`BtcturkMarketData` (the live public API). ``definitions.py`` picks one from
``MARKET_DATA_SOURCE`` (a backtest always replays), so the cycle assets never ask which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset, ReplayDatasetError
from btcbot_pipeline.domain.account import DryRunOpening, OpeningBalances
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.settings import BotSettings, load_settings
from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.storage.paths import BookPathError, book_path_problem


class SettingsResource(dg.ConfigurableResource):
    """``BotSettings`` from the environment and ``env_file``, loaded once per run."""

    env_file: str | None = ".env"
    overrides: dict[str, str] = {}
    _settings: BotSettings | None = PrivateAttr(default=None)

    def get(self) -> BotSettings:
        if self._settings is None:
            self._settings = load_settings(self.env_file, **self.overrides)
        return self._settings


@lru_cache(maxsize=4)
def _load_replay(path: str, signature: tuple[tuple[str, int, int], ...]) -> ReplayDataset:
    # Keyed by the files' sizes and mtimes, so an edited dataset is re-read while a
    # long-lived process (dagster dev) does not re-parse an unchanged one every run.
    del signature
    return ReplayDataset.load(path)


def _signature(path: str) -> tuple[tuple[str, int, int], ...]:
    root = Path(path)
    if not root.is_dir():
        return ()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return tuple((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


class MarketDataResource(dg.ConfigurableResource, ABC):
    """Where the cycle's snapshots come from, and what a new book opens with on that venue.

    ``source`` is what the snapshots and the book's identity record (``replay`` /
    ``btcturk``); :meth:`location` is the dataset or the API it reads.
    """

    source: ClassVar[str]

    @abstractmethod
    def location(self) -> str:
        """The dataset path or base URL, for the book's identity."""

    @abstractmethod
    def snapshots(
        self, cycle_times: list[datetime], *, vol_lookback: int, max_data_age_s: int, bar_seconds: int | None = None
    ) -> list[MarketSnapshot]:
        """One finalized snapshot per cycle time, seeing only rows at or before it;
        ``bar_seconds``: with each symbol's bar of that many seconds up to the cycle (the
        limit fill model; from the candles of either source)."""

    @abstractmethod
    def opening_balances(self, settings: BotSettings) -> OpeningBalances:
        """What a new book opens with on this venue (``settings``: the run's)."""

    def width(self) -> int | None:
        """How many symbols each snapshot holds, when known before any is taken (``None``:
        not known): a window is computed in batches sized by it."""
        return None


class ReplayMarketData(MarketDataResource):
    """Snapshots from the replay dataset at ``dataset_path``; a new book opens with
    ``DRY_RUN_TRY_BALANCE``."""

    source: ClassVar[str] = "replay"
    dataset_path: str = "data/replay"

    def location(self) -> str:
        return self.dataset_path

    def snapshots(
        self, cycle_times: list[datetime], *, vol_lookback: int, max_data_age_s: int, bar_seconds: int | None = None
    ) -> list[MarketSnapshot]:
        with _unusable_dataset():
            return self._dataset().snapshots(
                cycle_times, vol_lookback=vol_lookback, max_data_age_s=max_data_age_s, bar_seconds=bar_seconds
            )

    def opening_balances(self, settings: BotSettings) -> OpeningBalances:
        return DryRunOpening(settings.dry_run_try_balance)

    def width(self) -> int | None:
        """Every symbol of the dataset (each snapshot holds them all, unusable ones skipped)."""
        with _unusable_dataset():
            return len(self._dataset().symbols)

    def _dataset(self) -> ReplayDataset:
        return _load_replay(self.dataset_path, _signature(self.dataset_path))


@contextmanager
def _unusable_dataset() -> Iterator[None]:
    """A dataset that cannot be read fails the step, never retried: the same dataset fails the same way."""
    try:
        yield
    except ReplayDatasetError as exc:
        raise dg.Failure(description=f"replay dataset unusable: {exc}", allow_retries=False) from None


class BtcturkMarketData(MarketDataResource):
    """Snapshots from BTCTurk's live public API at ``btcturk_base_url`` /
    ``btcturk_graph_base_url`` (no credentials here: the resource config is shown in
    Dagster's UI); a new book opens from the account's balances when the settings hold
    credentials (:class:`~btcbot_pipeline.adapters.btcturk.account.AccountOpening`)."""

    source: ClassVar[str] = "btcturk"
    btcturk_base_url: str = "https://api.btcturk.com"
    btcturk_graph_base_url: str = "https://graph-api.btcturk.com"
    btcturk_timeout_s: float = 10.0
    # Defaults of BTCTURK_CALL_DEADLINE_SEC, BTCTURK_CYCLE_DEADLINE_SEC and BTCTURK_MAX_BODY_BYTES.
    btcturk_call_deadline_s: float = 20.0
    btcturk_cycle_deadline_s: float = 120.0
    btcturk_max_body_bytes: int = 8 * 1024 * 1024
    btcturk_retry_attempts: int = 4
    btcturk_retry_base_delay_s: float = 0.5
    btcturk_max_symbols: int = 30
    symbols: list[str] = []
    quote_ccy: str = "TRY"

    def location(self) -> str:
        return self.btcturk_base_url

    def snapshots(
        self, cycle_times: list[datetime], *, vol_lookback: int, max_data_age_s: int, bar_seconds: int | None = None
    ) -> list[MarketSnapshot]:
        from btcbot_pipeline.adapters.btcturk.market import live_snapshots

        return live_snapshots(
            self, cycle_times, vol_lookback=vol_lookback, max_data_age_s=max_data_age_s, bar_seconds=bar_seconds
        )

    def opening_balances(self, settings: BotSettings) -> OpeningBalances:
        from btcbot_pipeline.adapters.btcturk.account import AccountOpening

        return AccountOpening(settings)


class BookResource(dg.ConfigurableResource):
    """The DuckDB book at ``database`` (``STATE_DB_PATH``).

    Connections come from ``dagster_duckdb.DuckDBResource``, which retries while another
    process holds DuckDB's single-writer lock.
    """

    database: str = "data/btcbot_book.duckdb"
    # the setting that names it, for the one line that says why a path cannot be a book
    setting: str = "STATE_DB_PATH"

    def name(self) -> str:
        return Path(self.database).stem

    @contextmanager
    def open(self) -> Iterator[Book]:
        problem = book_path_problem(self.database, self.setting)
        if problem:  # permanent: never retried (DuckDB's own error would be, as a lock is)
            raise BookPathError(problem)
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with DuckDBResource(database=self.database).get_connection() as con:
            # get_connection closes only on a normal exit: a step that fails inside (a gate,
            # a ledger integrity error) must not leave the book open in this process.
            try:
                book = Book(con)
                book.ensure_schema()
                yield book
            finally:
                con.close()
