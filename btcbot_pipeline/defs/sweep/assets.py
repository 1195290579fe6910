"""The ``sweeps`` asset group of the backtests' code location: every sweep's members as
partitions of ONE asset, and each sweep's leaderboard.

- ``sweep/backtest``, partitioned by the dynamic partitions ``sweep_members`` (keys are
  member names, ``<sweep>__NNN``, added by ``btcbot sweep``): one partition runs the
  member's whole window into its book with :func:`btcbot_pipeline.defs.backtest.run.run`,
  the code path of ``btcbot backtest`` (so the book is the one the same spec gives alone),
  in an ephemeral instance of its own (its seven-asset graph is an implementation detail,
  not 7 × members assets in the UI), and returns the member's leaderboard figures.
- ``sweep/leaderboard``, partitioned by the dynamic partitions ``sweeps`` (sweep names): an
  external asset (a :class:`dagster.AssetSpec`) whose materializations ``btcbot sweep``
  reports once every member has ended, with the leaderboard table and its files.
- ``sweep_job`` selects the member asset; each partition's run gets the run config naming
  the sweep's folder and the tags ``btcbot/sweep=<sweep>`` and ``btcbot/book=<member
  book, resolved>`` (:func:`btcbot_pipeline.defs.run_tags.book_tags`), so an instance with a
  tag concurrency limit on ``btcbot/book`` runs members of different books in parallel.
"""

# no `from __future__ import annotations`: Dagster reads the asset's `config: MemberConfig` annotation as a type
import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.defs.run_tags import book_tags
from btcbot_pipeline.defs.sweep.manifest import SweepError, load_manifest, load_member_spec, member_book, sweep_dir
from btcbot_pipeline.domain.sweep_grid import sweep_of

GROUP = "sweeps"
JOB = "sweep_job"
SWEEP_TAG = "btcbot/sweep"
MEMBER_KEY = dg.AssetKey(["sweep", "backtest"])
LEADERBOARD_KEY = dg.AssetKey(["sweep", "leaderboard"])
MEMBER_OP = "sweep__backtest"
SWEEP_MEMBERS = dg.DynamicPartitionsDefinition(name="sweep_members")
SWEEPS = dg.DynamicPartitionsDefinition(name="sweeps")
_TAGS = {"btcbot/graph": "sweep"}


class MemberConfig(dg.Config):
    folder: str = Field(
        default="", description="the sweep's folder (default: BACKTEST_DIR/sweeps/<sweep> of this code location)"
    )


def member_tags(backtest_dir: str | Path, member: str) -> dict[str, str]:
    """The run tags of a member's run."""
    return {SWEEP_TAG: sweep_of(member), **book_tags(member_book(backtest_dir, member))}


def build_sweep_definitions(backtest_dir: str | Path) -> tuple[list[dg.AssetsDefinition | dg.AssetSpec], list]:
    """The member asset, the leaderboard spec and ``sweep_job`` for sweeps under ``backtest_dir``."""

    @dg.asset(
        key=MEMBER_KEY,
        group_name=GROUP,
        partitions_def=SWEEP_MEMBERS,
        owners=OWNERS,
        tags=_TAGS,
        description="One sweep member (partition <sweep>__NNN): its whole backtest window into its own book, "
        "as `btcbot backtest` runs it; metadata: the member's leaderboard figures.",
    )
    def sweep_backtest(context: dg.AssetExecutionContext, config: MemberConfig) -> dg.MaterializeResult:
        member = context.partition_key
        folder = Path(config.folder) if config.folder else sweep_dir(backtest_dir, sweep_of(member))
        return dg.MaterializeResult(metadata=run_member(folder, member))

    leaderboard = dg.AssetSpec(
        LEADERBOARD_KEY,
        group_name=GROUP,
        partitions_def=SWEEPS,
        deps=[dg.AssetDep(MEMBER_KEY, partition_mapping=dg.AllPartitionMapping())],
        owners=OWNERS,
        tags=_TAGS,
        description="A sweep's leaderboard (partition: the sweep's name), reported by `btcbot sweep` when every "
        "member has ended: members by return, their parameters, drawdown, costs, modes and fingerprints.",
    )
    job = dg.define_asset_job(
        JOB,
        selection=[MEMBER_KEY],
        config=dg.PartitionedConfig(
            partitions_def=SWEEP_MEMBERS,
            run_config_for_partition_key_fn=lambda key: {
                "ops": {MEMBER_OP: {"config": {"folder": str(sweep_dir(backtest_dir, sweep_of(key)).resolve())}}}
            },
            tags_for_partition_key_fn=lambda key: member_tags(backtest_dir, key),
        ),
        executor_def=dg.in_process_executor,
        description="Sweep members, one run per partition (btcbot sweep launches them as a backfill).",
        tags=_TAGS,
        owners=OWNERS,
    )
    return [sweep_backtest, leaderboard], [job]


def run_member(folder: Path, member: str) -> dict[str, object]:
    """Run one member's backtest (its book starts over) and return its metadata.

    Raises:
        dagster.Failure: the backtest stopped (its reason as the description).
    """
    from btcbot_pipeline.defs.backtest.run import run
    from btcbot_pipeline.quality.worker import end_idle_workers, prestart
    from btcbot_pipeline.reporting.leaderboard import member_row, row_path, write_row

    spec = load_member_spec(folder, member)
    try:
        manifest = load_manifest(folder)
        params = next(m.params for m in manifest.members if m.name == member)
    except (SweepError, StopIteration):
        params = {}
    book = Path(folder) / f"{member}.duckdb"
    for path in (book, Path(f"{book}.wal"), row_path(book)):
        path.unlink(missing_ok=True)
    prestart()  # as `btcbot backtest`: Great Expectations loads in its worker while the run sets up
    try:
        outcome = run(spec, folder, instance=dg.DagsterInstance.ephemeral())
    finally:
        end_idle_workers()  # no gate worker outlives the run's process
    if not outcome.success:
        raise dg.Failure(description=f"member {member} stopped: {outcome.failure}")
    row = member_row(outcome.book, member, params)
    write_row(row)  # the sweep's leaderboard reads it: the book is read for its figures once
    return {
        "params": dg.MetadataValue.json(params),
        "return_pct": float(row.return_pct),
        "max_drawdown_pct": float(row.max_drawdown_pct),
        "final_equity_try": f"{row.final_equity_try:f}",
        "fees_try": f"{row.fees_try:f}",
        "turnover_try": f"{row.turnover_try:f}",
        "fills": row.fills,
        "cycles": row.cycles,
        **{f"{m.lower()}_pct": float(v) for m, v in row.mode_pct.items()},
        "fingerprint": row.digest,
        "book": dg.MetadataValue.path(str(outcome.book)),
        "settings": dg.MetadataValue.json(json.loads(spec.model_dump_json())["settings"]),
    }
