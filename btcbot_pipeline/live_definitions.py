"""The ``Definitions`` of the live code location (``btcbot_live`` in ``workspace.yaml``):
the same seven cycle assets (group ``live``, keys ``live/<stage>``) on the BTCTurk venue,
into the live book (``LIVE_STATE_DB_PATH``, a book of kind ``live``), the job
``live_cycle_job`` and its schedule, **stopped** until an operator starts it.

A location of its own, so that nothing in the dry-run location can build a trading
client, and ``dagster asset materialize -m btcbot_pipeline.definitions --select '*'`` never
reaches the exchange. Every live run starts with the arm state (one line per gate) and
preflight's checks (``btcbot preflight --profile live``); a failed check ends it before
anything is read or sent. The gates are read again at every submit and cancel. From a
shell, once preflight passes::

    dagster asset materialize -m btcbot_pipeline.live_definitions --select 'group:live' --partition <cycle key>
"""

from __future__ import annotations

import dagster as dg

from btcbot_pipeline.definitions import load_once, market_data
from btcbot_pipeline.defs.cycle.assets import CycleGraph, build_cycle_assets
from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.defs.cycle.partitions import closed_at, cycle_partitions
from btcbot_pipeline.defs.cycle.resources import BookResource, SettingsResource
from btcbot_pipeline.defs.live.resources import LiveVenueResource
from btcbot_pipeline.defs.run_tags import book_tags
from btcbot_pipeline.settings import BotSettings

LIVE_GROUP = "live"
LIVE_TAGS = {"btcbot/mode": "live"}


def live_graph(settings: BotSettings) -> CycleGraph:
    calendar = cycle_partitions(settings.cycle_cron, settings.cycle_partitions_start, settings.cycle_partitions_end)
    return CycleGraph(
        calendar,
        kind="live",
        key_prefix=("live",),
        group=LIVE_GROUP,
        resources=("settings", "live_market_data", "live_book"),
        venue="live_venue",
    )


def build_live_definitions(
    settings: BotSettings, *, env_file: str | None = ".env", overrides: dict[str, str] | None = None
) -> dg.Definitions:
    graph = live_graph(settings)
    # The live book in the job's tags (the CLI's launches take only those) and the schedule's
    # requests: the instance's queue runs one run per book at a time.
    tags = {**LIVE_TAGS, **book_tags(settings.live_state_db_path)}
    job = dg.define_asset_job(
        "live_cycle_job",
        selection=dg.AssetSelection.groups(LIVE_GROUP),
        executor_def=dg.in_process_executor,
        description="One LIVE cycle on BTCTurk: the same seven stages, orders submitted and cancelled on the exchange "
        "when all four gates are armed at the moment of each action, into the live book. Preflight first.",
        tags=tags,
        owners=OWNERS,
        partitions_def=graph.partitions_def,
    )
    schedule = build_live_schedule(job, graph.calendar, settings.cycle_cron, tags)
    return dg.Definitions(
        assets=build_cycle_assets(graph.calendar, graph),
        jobs=[job],
        schedules=[schedule],
        resources={
            "settings": SettingsResource(env_file=env_file, overrides=overrides or {}),
            # always the exchange's live data, whatever MARKET_DATA_SOURCE says
            "live_market_data": market_data(settings.model_copy(update={"market_data_source": "btcturk"})),
            "live_book": BookResource(database=settings.live_state_db_path, setting="LIVE_STATE_DB_PATH"),
            "live_venue": LiveVenueResource(env_file=env_file, overrides=overrides or {}),
        },
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return load_once("live", build_live_definitions)


def build_live_schedule(
    job: dg.UnresolvedAssetJobDefinition, calendar: dg.TimeWindowPartitionsDefinition, cron: str, tags: dict[str, str]
) -> dg.ScheduleDefinition:
    """At each ``CYCLE_CRON`` tick, the live cycle that just closed; stopped until a person
    starts it. A schedule of our own on the cron rather than Dagster's
    ``build_schedule_from_partitioned_job``, which refuses the static partitions the job has
    once ``CYCLE_PARTITIONS_END`` is set (the demo profile): the whole location failed to load."""

    @dg.schedule(
        name="live_cycle_schedule",
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,  # live trading is switched on by a person
        description="The LIVE cycle that just closed, at each CYCLE_CRON tick. Stopped until an operator starts it.",
        tags=tags,
        owners=OWNERS,
    )
    def live_cycle_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        key = closed_at(calendar, context.scheduled_execution_time)
        if isinstance(key, dg.SkipReason):
            return key
        return dg.RunRequest(run_key=f"live-{key}", partition_key=key, tags=tags)

    return live_cycle_schedule
