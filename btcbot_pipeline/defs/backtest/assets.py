"""One backtest spec → the seven cycle assets (the same factory as the dry-run graph) over
coarse partitions, with the backtest's own resources and book.

Keys are ``backtest/<name>/<stage>`` in group ``backtest_<name>``; partitions are UTC days
(or weeks: ``--partition week``) covering the spec's window, each holding its cycles at
the ``CYCLE_CRON`` step. Dagster's bookkeeping (~2 events per asset and partition, 10–50
ms each with a SQLite instance, plus one check evaluation per gate suite and partition,
~40 ms each) is then paid per day, not per cycle: 20 days = 140 materializations instead
of 40,000. Each day partition gets one log line with the day's totals, its checks, and a
``cycle_trace`` with its last cycle's decisions as tables (:mod:`btcbot_pipeline.defs.cycle`);
the assets are tagged ``btcbot/graph=backtest`` and ``btcbot/backtest=<name>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import dagster as dg

from btcbot_pipeline.defs.backtest.spec import PARTITIONS, BacktestSpec, book_path
from btcbot_pipeline.defs.cycle.assets import CycleGraph, build_cycle_assets
from btcbot_pipeline.defs.cycle.resources import BookResource, ReplayMarketData, SettingsResource
from btcbot_pipeline.domain import utc
from btcbot_pipeline.storage.book import Book


def backtest_partitions(spec: BacktestSpec) -> dg.TimeWindowPartitionsDefinition:
    """The backtest's calendar of days (or weeks); Dagster sees its keys as a static list
    (:func:`btcbot_pipeline.defs.cycle.partitions.ui_partitions`)."""
    cron, _ = PARTITIONS[spec.partition]
    lo, hi = spec.partition_bounds()
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=cron, start=lo.strftime(utc.DAY), end=hi.strftime(utc.DAY), fmt=utc.DAY, timezone="UTC"
    )


def resource_keys(spec: BacktestSpec) -> tuple[str, str, str]:
    return (f"backtest_{spec.name}_settings", f"backtest_{spec.name}_market_data", f"backtest_{spec.name}_book")


def backtest_graph(spec: BacktestSpec, backtest_dir: str | Path) -> CycleGraph:
    cfg = spec.cfg(backtest_dir)
    return CycleGraph(
        calendar=backtest_partitions(spec),
        kind="backtest",
        name=spec.name,
        key_prefix=("backtest", spec.name),
        group=f"backtest_{spec.name}",
        cycle_cron=cfg.cycle_cron,
        span=(spec.start, spec.end),
        resources=resource_keys(spec),
        final_report=_report(spec, book_path(backtest_dir, spec.name).with_suffix(".png")),
    )


def build_backtest(spec: BacktestSpec, backtest_dir: str | Path) -> tuple[list[dg.AssetsDefinition], dict[str, Any]]:
    """The backtest's assets and the resources they need (keys unique to the backtest)."""
    graph = backtest_graph(spec, backtest_dir)
    settings_key, market_key, book_key = graph.resources
    resources = {
        settings_key: SettingsResource(
            env_file=None,
            overrides={k: v for k, v in spec.settings.items() if v is not None}
            | {"REPLAY_DATASET_PATH": spec.dataset, "STATE_DB_PATH": str(book_path(backtest_dir, spec.name))},
        ),
        market_key: ReplayMarketData(dataset_path=spec.dataset),
        book_key: BookResource(database=str(book_path(backtest_dir, spec.name)), setting="BACKTEST_DIR"),
    }
    return build_cycle_assets(graph.calendar, graph), resources


def _report(spec: BacktestSpec, chart: Path) -> Any:
    def report(book: Book) -> Callable[[], dict[str, Any]]:
        """The backtest's report table and equity/drawdown chart (also ``<name>.png`` beside
        the book), for its last partition's materialization (see ``report_metadata``)."""
        from btcbot_pipeline.defs.backtest.report_metadata import report_metadata

        return report_metadata(book.con, label=spec.name, chart=chart)

    return report
