"""The ``Definitions`` of the bot's code location: the dry-run cycle and what runs it.

Backtests are another code location, :mod:`btcbot_pipeline.backtest_definitions`
(``workspace.yaml`` loads both): each backtest spec is an asset group partitioned by its
own days, and Dagster's ``dagster asset materialize --select '*'`` needs every selected
asset to share one partitions definition, so with the specs in this location the README's
main job failed as soon as a backtest existed. Apart, ``-m btcbot_pipeline.definitions
--select '*'`` means the bot's cycle whatever backtests exist, and an unreadable spec can
never take the bot's location down.

Settings are read when Dagster loads the code location (the partitions depend on
``CYCLE_CRON`` / ``CYCLE_PARTITIONS_START``), not at import, so importing this module has
no side effects and tests can build definitions from their own settings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import click
import dagster as dg

from btcbot_pipeline.defs.cycle.alert_sensors import build_alert_sensor
from btcbot_pipeline.defs.cycle.assets import STAGE7_DISABLED, build_cycle_assets
from btcbot_pipeline.defs.cycle.jobs import build_cycle_job
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.defs.cycle.resources import (
    BookResource,
    BtcturkMarketData,
    MarketDataResource,
    ReplayMarketData,
    SettingsResource,
)
from btcbot_pipeline.defs.cycle.sensors import build_catchup_sensor, build_cycle_schedule
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings


class SettingsRefused(SettingsError, click.ClickException):
    """A refused setting while Dagster loads the definitions.

    Dagster's CLI is click: it prints a ``ClickException`` as ``Error: <message>`` and exits
    1, where any other exception shows ~90 lines of traceback before the one line that says
    which variable is wrong. Still a :class:`SettingsError` for Python callers.
    """

    def __init__(self, error: SettingsError) -> None:
        SettingsError.__init__(self, error.problems)
        click.ClickException.__init__(self, "refused settings:\n" + str(error))


def build_definitions(
    settings: BotSettings, *, env_file: str | None = ".env", overrides: dict[str, str] | None = None
) -> dg.Definitions:
    partitions = cycle_partitions(settings.cycle_cron, settings.cycle_partitions_start, settings.cycle_partitions_end)
    cycle_job = build_cycle_job(settings.state_db_path)  # its runs carry the book's tag
    return dg.Definitions(
        assets=build_cycle_assets(partitions),
        jobs=[cycle_job],
        schedules=[build_cycle_schedule(cycle_job, partitions, settings.cycle_cron)],
        sensors=[build_catchup_sensor(cycle_job, partitions, settings.catchup_max_runs_per_tick), build_alert_sensor()],
        resources={
            "settings": SettingsResource(env_file=env_file, overrides=overrides or {}),
            "market_data": market_data(settings),
            "book": BookResource(database=settings.state_db_path),
        },
        # One process per run: a multiprocess run costs ~14 s here against ~2.4 s, and
        # DuckDB allows a single writer, so steps must not run in parallel processes.
        executor=dg.in_process_executor,
    )


def market_data(settings: BotSettings) -> MarketDataResource:
    """The market-data source ``MARKET_DATA_SOURCE`` names, configured from the settings."""
    if settings.market_data_source == "btcturk":
        return BtcturkMarketData(
            btcturk_base_url=settings.btcturk_base_url,
            btcturk_graph_base_url=settings.btcturk_graph_base_url,
            btcturk_timeout_s=settings.btcturk_timeout_sec,
            btcturk_max_symbols=settings.btcturk_max_symbols,
            btcturk_call_deadline_s=settings.btcturk_call_deadline_sec,
            btcturk_cycle_deadline_s=settings.btcturk_cycle_deadline_sec,
            btcturk_max_body_bytes=settings.btcturk_max_body_bytes,
            symbols=list(settings.stage7_universe_whitelist),
            quote_ccy=settings.stage7_universe_quote_ccy,
        )
    return ReplayMarketData(dataset_path=settings.replay_dataset_path)


# Dagster calls ``defs`` several times while it loads a code location (six times for one
# `dagster asset materialize`, ~0.13 s each): built once per process for the same
# environment and .env file (a change of either builds anew).
_BUILT: dict[tuple[object, ...], dg.Definitions] = {}


def load_once(
    kind: str, build: Callable[[BotSettings], dg.Definitions], extra: tuple[object, ...] = ()
) -> dg.Definitions:
    """``build(settings)`` once per process for the same environment, ``.env`` and ``extra``;
    refused settings as one clear line (:class:`SettingsRefused`)."""
    key = (kind, _inputs_key(), extra)
    if key not in _BUILT:
        try:
            settings = load_settings()
        except SettingsError as exc:
            raise SettingsRefused(exc) from None
        for old in [k for k in _BUILT if k[0] == kind]:
            del _BUILT[old]
        _BUILT[key] = build(settings)
    return _BUILT[key]


def _inputs_key() -> tuple[object, ...]:
    try:
        st = os.stat(".env")
        dotenv: tuple[object, ...] = (os.path.abspath(".env"), st.st_mtime_ns, st.st_size)
    except OSError:
        dotenv = (os.path.abspath(".env"),)
    return (tuple(sorted(os.environ.items())), dotenv)


def _cli_materialize() -> bool:
    """Whether this process is Dagster's CLI running the cycle right here
    (``dagster asset materialize`` / ``dagster job execute``)."""
    args = sys.argv[1:]
    return Path(sys.argv[0]).name.startswith("dagster") and (
        args[:2] == ["asset", "materialize"] or args[:2] == ["job", "execute"]
    )


def _build_cycle(settings: BotSettings) -> dg.Definitions:
    if not settings.stage7_enabled and _cli_materialize():
        # The run would fail on its first step; Dagster's CLI prints a step failure with
        # its stack trace twice. Refused here it is one line, as refused settings are.
        raise click.ClickException(STAGE7_DISABLED)
    return build_definitions(settings)


@dg.definitions
def defs() -> dg.Definitions:
    return load_once("cycle", _build_cycle)
