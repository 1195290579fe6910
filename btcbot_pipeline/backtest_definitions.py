"""The ``Definitions`` of the backtests' code location (``btcbot_backtests`` in
``workspace.yaml``): one asset group per spec in ``BACKTEST_DIR``, written by ``btcbot
backtest``, and one job per spec for the UI's Jobs page (tagged ``btcbot/book`` with the
spec's book, :mod:`btcbot_pipeline.defs.run_tags`).

And the group ``sweeps`` (``btcbot sweep``): one asset whose partitions are all sweeps'
members, a leaderboard per sweep and ``sweep_job`` (:mod:`btcbot_pipeline.defs.sweep.assets`).
A sweep's members are never groups of their own: their specs live in
``BACKTEST_DIR/sweeps/<sweep>/``, which the per-spec groups (``BACKTEST_DIR/*.spec.json``)
do not read.

A location of its own (see :mod:`btcbot_pipeline.definitions`): its groups are partitioned
by each backtest's days, so they can never share a partitions definition with the bot's
cycle, which ``--select '*'`` requires. From a shell::

    dagster asset materialize -m btcbot_pipeline.backtest_definitions --select 'group:backtest_real10' \\
        --partition-range 2018-01-10...2018-01-29
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dotenv import dotenv_values

from btcbot_pipeline.definitions import load_once
from btcbot_pipeline.defs.backtest.assets import backtest_graph, build_backtest
from btcbot_pipeline.defs.backtest.spec import book_path, load_specs
from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.defs.run_tags import book_tags
from btcbot_pipeline.defs.sweep.assets import build_sweep_definitions
from btcbot_pipeline.defs.sweep.manifest import manifest_files
from btcbot_pipeline.settings import BotSettings


def build_backtest_definitions(settings: BotSettings) -> dg.Definitions:
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = []
    resources: dict[str, object] = {}
    jobs = []
    for spec in load_specs(settings.backtest_dir):
        spec_assets, spec_resources = build_backtest(spec, settings.backtest_dir)
        assets += spec_assets
        resources |= spec_resources
        group = backtest_graph(spec, settings.backtest_dir).group
        jobs.append(
            dg.define_asset_job(
                f"{group}_job",
                selection=dg.AssetSelection.groups(group),
                executor_def=dg.in_process_executor,
                description=f"Backtest {spec.name}: its days in one run, in order, into its own book.",
                tags={"btcbot/backtest": spec.name, **book_tags(book_path(settings.backtest_dir, spec.name))},
                owners=OWNERS,
            )
        )
    # Always there, sweeps or not: a sweep's members are dynamic partitions kept in the
    # instance, so a long-running webserver, daemon or code server runs a new sweep without
    # loading this location again.
    sweep_assets, sweep_jobs = build_sweep_definitions(settings.backtest_dir)
    assets += sweep_assets
    jobs += sweep_jobs
    return dg.Definitions(assets=assets, jobs=jobs, resources=resources, executor=dg.in_process_executor)


def _specs_key() -> tuple[object, ...]:
    """The spec files (and sweep manifests) as they are now: a new or changed one builds the location anew."""
    root = Path(os.environ.get("BACKTEST_DIR") or dotenv_values(".env").get("BACKTEST_DIR") or "data/backtests")
    try:
        files = [*sorted(root.glob("*.spec.json")), *manifest_files(root)]
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:
        return ()


@dg.definitions
def defs() -> dg.Definitions:
    return load_once("backtests", build_backtest_definitions, _specs_key())
