"""Run in a fresh interpreter (its own ``PYTHONHASHSEED``): the Dagster webserver's own
validation of a backfill launched the way the UI's dialog launches it
(``assetSelection`` + ``partitionNames``, or ``allPartitions``), over the cycle graph and
a backtest's. Prints ``ok <n>`` or the error."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.execution.backfill import PartitionBackfill
from dagster_graphql.implementation.utils import assert_valid_asset_partition_backfill

from btcbot_pipeline.defs.cycle.assets import CycleGraph, build_cycle_assets
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions

CYCLES = cycle_partitions("*/5 * * * *", "2026-01-01T00:00", "2026-01-02T00:00")
DAYS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * *", start="2018-01-10", end="2018-01-31", fmt="%Y-%m-%d", timezone="UTC"
)
LAUNCHES = [
    (CycleGraph(CYCLES), ["2026-01-01T01:00", "2026-01-01T01:05", "2026-01-01T01:10"]),
    (CycleGraph(CYCLES), [f"2026-01-01T01:{m:02d}" for m in range(0, 60, 5)]),
    (CycleGraph(CYCLES), None),  # Materialize all → All
    (
        CycleGraph(
            DAYS,
            kind="backtest",
            name="real10",
            key_prefix=("backtest", "real10"),
            group="backtest_real10",
            cycle_cron="*/5 * * * *",
        ),
        ["2018-01-10", "2018-01-11"],
    ),
    (
        CycleGraph(
            DAYS,
            kind="backtest",
            name="real10",
            key_prefix=("backtest", "real10"),
            group="backtest_real10",
            cycle_cron="*/5 * * * *",
        ),
        None,
    ),
]


def main() -> None:
    done = 0
    with dg.DagsterInstance.ephemeral() as instance:
        for graph, names in LAUNCHES:
            assets = AssetGraph.from_assets(build_cycle_assets(graph.calendar, graph))
            now = time.time()
            backfill = PartitionBackfill.from_asset_partitions(
                asset_graph=assets,
                backfill_id=f"b{done}",
                tags={},
                backfill_timestamp=now,
                asset_selection=sorted(assets.materializable_asset_keys),
                partition_names=names,
                dynamic_partitions_store=instance,
                all_partitions=names is None,
                title=None,
                description=None,
                run_config=None,
            )
            info = SimpleNamespace(context=SimpleNamespace(asset_graph=assets, instance=instance))
            assert_valid_asset_partition_backfill(info, backfill, datetime.fromtimestamp(now, timezone.utc))  # type: ignore[arg-type]
            done += 1
    print(f"ok {done}")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # the test prints what Dagster said
        print(f"{type(exc).__name__}: {exc}")
        sys.exit(1)
