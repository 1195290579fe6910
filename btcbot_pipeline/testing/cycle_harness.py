"""Running the cycle assets in process on a temporary book and dataset (the ``cycle`` fixture of
``btcbot_pipeline_tests/conftest.py`` is one on the synthetic replay dataset)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from btcbot_pipeline.defs.cycle.assets import build_cycle_assets
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.defs.cycle.resources import BookResource, ReplayMarketData, SettingsResource

START = datetime(2026, 1, 1, tzinfo=timezone.utc)

# The dry-run demo profile of .env.example, spelled out so the tests do not depend on it.
DEMO = {
    "STAGE7_ENABLED": "true",
    "DRY_RUN": "true",
    "KILL_SWITCH": "false",
    "LIVE_TRADING": "false",
    "DRY_RUN_TRY_BALANCE": "10000",
    "STAGE7_UNIVERSE_SIZE": "5",
    "MAX_ORDERS_PER_CYCLE": "5",
    "NOTIONAL_CAP_TRY_PER_CYCLE": "10000",
}


@dataclass
class Cycle:
    """Runs the cycle assets against one book; ``rows`` reads a table back."""

    db: Path
    dataset: Path
    overrides: dict[str, str]

    def resources(self) -> dict[str, Any]:
        return {
            "settings": SettingsResource(
                env_file=None,
                overrides={**self.overrides, "STATE_DB_PATH": str(self.db), "REPLAY_DATASET_PATH": str(self.dataset)},
            ),
            "market_data": ReplayMarketData(dataset_path=str(self.dataset)),
            "book": BookResource(database=str(self.db)),
        }

    def assets(self) -> list[dg.AssetsDefinition]:
        return build_cycle_assets(cycle_partitions("*/5 * * * *", "2026-01-01T00:00"))

    def run(
        self, key: str | None = None, *, first: str | None = None, last: str | None = None
    ) -> dg.ExecuteInProcessResult:
        tags = {} if key else {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        return dg.materialize(
            self.assets(),
            partition_key=key,
            tags=tags,
            resources=self.resources(),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure's message and description, for asserting on error text."""
    parts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            parts.append(error.message if error else "")
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                parts.append(user.description)
    return "\n".join(parts)
