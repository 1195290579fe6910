"""``btcbot live-cycle``: one live cycle now, as the live job would run it.

Runs ``live_cycle_job`` of the live code location in this process for the last closed
cycle (or ``--partition``), recorded in ``DAGSTER_HOME`` when it is set: the arm state,
preflight's checks, progress, then the cycle's summary from the live book. Exit 0 when
the run succeeded, 1 when it failed (preflight, a gate, the exchange), 2 when the settings
are refused. The same run as ``dagster asset materialize -m btcbot_pipeline.live_definitions
--select 'group:live' --partition KEY``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from btcbot_pipeline.cli import options
from btcbot_pipeline.settings import SettingsError, load_settings


def _live_cycle(args: argparse.Namespace) -> int:
    import dagster as dg

    from btcbot_pipeline.defs.backtest.run import _failure, show_progress
    from btcbot_pipeline.live_definitions import build_live_definitions, live_graph
    from btcbot_pipeline.reporting.books import open_book
    from btcbot_pipeline.reporting.cycle_summary import cycle_summary, latest_cycle_ts
    from btcbot_pipeline.storage.book import Book

    try:
        cfg = load_settings(args.env_file)
    except SettingsError as exc:
        print(f"refused settings:\n{exc}")
        return 2
    key = args.partition or live_graph(cfg).partitions_def.get_last_partition_key()
    if key is None:
        print("no cycle has closed yet (CYCLE_PARTITIONS_START is in the future)")
        return 1
    show_progress()
    defs = build_live_definitions(cfg, env_file=args.env_file)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    print(f"live cycle {key} → {cfg.live_state_db_path}")
    result = defs.resolve_job_def("live_cycle_job").execute_in_process(
        partition_key=key,
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    if not result.success:
        print(f"the live cycle failed: {_failure(result)}")
        return 1
    with open_book(Path(cfg.live_state_db_path)) as con:
        book = Book(con)
        print(cycle_summary(book, latest_cycle_ts(book), cfg))
    return 0


def add_live_cycle(sub: options.Subparsers) -> None:
    p = sub.add_parser("live-cycle", help="run one LIVE cycle now (the live job; preflight first), then its summary")
    p.add_argument("--partition", default=None, help="the cycle's partition key (default: the last closed cycle)")
    options.env_file(p)
    p.set_defaults(func=_live_cycle)
