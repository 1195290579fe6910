"""``btcbot``: what Dagster's own CLI does not cover.

Commands call the same functions the assets call and hold no logic of their own:

- ``replay-init``      write a deterministic synthetic replay dataset
- ``replay-validate``  check a dataset against the replay contract (exit 1 on errors)
- ``summary``          print a materialized cycle's summary from the book
- ``settings``         print the effective settings (secrets masked) or the refusal

Errors of our own print as ``ErrorType: message`` with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from btcbot_pipeline.adapters.replay.dataset import ReplayDatasetError
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.reports import ReportError, cycle_summary, latest_cycle_ts
from btcbot_pipeline.settings import SettingsError, load_settings

KEY_FORMAT = "%Y-%m-%dT%H:%M"


def _utc(text: str) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", KEY_FORMAT):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"not a UTC time like 2026-01-01T00:30, was {text!r}")


def _replay_init(args: argparse.Namespace) -> int:
    summary = init_replay_dataset(args.dataset, seed=args.seed, start=args.start, minutes=args.minutes)
    print(f"wrote {len(summary.symbols)} symbols × {summary.rows} rows to {summary.path} "
          f"({summary.start:%Y-%m-%dT%H:%M} … {summary.end:%Y-%m-%dT%H:%M} UTC, seed {args.seed})")
    return 0


def _replay_validate(args: argparse.Namespace) -> int:
    report = validate_replay_dataset(args.dataset)
    print(report.format_text())
    return 0 if report.ok else 1


def _summary(args: argparse.Namespace) -> int:
    import duckdb

    from btcbot_pipeline.storage.book import Book

    db = args.db or load_settings().state_db_path
    if not Path(db).exists():
        raise ReportError(f"no book at {db}: materialize a cycle first (see README)")
    with duckdb.connect(db, read_only=True) as con:
        book = Book(con)
        ts = args.partition or latest_cycle_ts(book)
        print(cycle_summary(book, ts))
    return 0


def _settings(args: argparse.Namespace) -> int:
    settings = load_settings(args.env_file)
    width = max(len(k) for k in settings.safe_summary())
    for key, value in settings.safe_summary().items():
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="btcbot", description="btcbot_pipeline tools (cycles run through Dagster)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay-init", help="write a deterministic synthetic replay dataset")
    p.add_argument("--dataset", required=True, help="folder to write (created if missing)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", type=_utc, default=datetime(2026, 1, 1, tzinfo=timezone.utc), help="first row, UTC")
    p.add_argument("--minutes", type=int, default=1440, help="one-minute rows per symbol (default one day)")
    p.set_defaults(func=_replay_init)

    p = sub.add_parser("replay-validate", help="validate a replay dataset; exit 1 if it has errors")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=_replay_validate)

    p = sub.add_parser("summary", help="print the summary of a materialized cycle")
    p.add_argument("--partition", type=_utc, help="cycle partition key, e.g. 2026-01-01T00:30 (default: latest)")
    p.add_argument("--db", help="DuckDB book (default STATE_DB_PATH)")
    p.set_defaults(func=_summary)

    p = sub.add_parser("settings", help="print the effective settings, secrets masked")
    p.add_argument("--env-file", default=".env")
    p.set_defaults(func=_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, ReplayDatasetError, ReportError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


