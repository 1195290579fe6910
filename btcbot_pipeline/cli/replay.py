"""Replay datasets: ``replay-init``, ``replay-validate``, ``replay-capture``, ``replay-import``."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from btcbot_pipeline.adapters.replay.importer import (
    DEFAULT_MIN_NOTIONAL,
    import_freqtrade_ohlcv,
    parse_pair_list,
)
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.cli import options
from btcbot_pipeline.domain import utc
from btcbot_pipeline.settings import load_settings


def _replay_init(args: argparse.Namespace) -> int:
    summary = init_replay_dataset(args.dataset, seed=args.seed, start=args.start, minutes=args.minutes)
    print(
        f"wrote {len(summary.symbols)} symbols × {summary.rows} rows to {summary.path} "
        f"({utc.minute_text(summary.start)} … {utc.minute_text(summary.end)} UTC, seed {args.seed})"
    )
    return 0


def _replay_validate(args: argparse.Namespace) -> int:
    report = validate_replay_dataset(args.dataset)
    print(report.format_text())
    return 0 if report.ok else 1


def _replay_capture(args: argparse.Namespace) -> int:
    from btcbot_pipeline.adapters.btcturk.capture import capture_replay_dataset
    from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient, ClientConfig

    settings = load_settings(args.env_file)
    config = ClientConfig(
        base_url=settings.btcturk_base_url,
        graph_base_url=settings.btcturk_graph_base_url,
        timeout_s=settings.btcturk_timeout_sec,
        call_deadline_s=settings.btcturk_call_deadline_sec,
        max_body_bytes=settings.btcturk_max_body_bytes,
    )
    symbols = [s for s in args.symbols.replace(" ", ",").split(",") if s]
    with BtcturkPublicClient(config) as client:
        manifest = capture_replay_dataset(
            client,
            args.dataset,
            symbols,
            minutes=args.minutes,
            poll_interval_s=args.poll_interval,
            history_minutes=args.history_minutes,
        )
    print(
        f"captured {', '.join(manifest.symbols)} from {manifest.source['base_url']} "
        f"({manifest.started_at} … {manifest.ended_at}, {manifest.polls} polls) to {args.dataset}"
    )
    for rel, count in manifest.rows.items():
        print(f"  {rel}: {count} rows")
    if manifest.failures:
        print("  failed calls: " + ", ".join(f"{k} {v}" for k, v in sorted(manifest.failures.items())))
    return 0


def _replay_import(args: argparse.Namespace) -> int:
    pairs = None if args.pairs is None else parse_pair_list(args.pairs)
    summary = import_freqtrade_ohlcv(
        args.ohlcv,
        args.dataset,
        quote=args.quote,
        rate=args.rate,
        pairs=pairs,
        timeframe=args.timeframe,
        min_notional=args.min_notional,
    )
    print(
        f"imported {summary.timeframe} bars of {', '.join(p.symbol for p in summary.pairs)} "
        f"(source prices × {args.rate} {summary.quote}) from {args.ohlcv} to {summary.path}"
    )
    for p in summary.pairs:
        skipped = sum(p.skipped.values())
        print(
            f"  {p.symbol:<10} {p.rows} rows {p.first_ts} … {p.last_ts}, "
            f"{p.missing_bars} missing bars, {skipped} bad rows skipped, tick {p.rules.tick_size}"
        )
    return 0


def add_init(sub: options.Subparsers) -> None:
    p = sub.add_parser("replay-init", help="write a deterministic synthetic replay dataset")
    options.dataset(p, options.NEW_FOLDER_HELP)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--start", type=options.utc, default=datetime(2026, 1, 1, tzinfo=timezone.utc), help="first row, UTC"
    )
    p.add_argument("--minutes", type=int, default=1440, help="one-minute rows per symbol (default one day)")
    p.set_defaults(func=_replay_init)


def add_validate(sub: options.Subparsers) -> None:
    p = sub.add_parser("replay-validate", help="validate a replay dataset; exit 1 if it has errors")
    options.dataset(p)
    p.set_defaults(func=_replay_validate)


def add_capture(sub: options.Subparsers) -> None:
    p = sub.add_parser("replay-capture", help="capture the live BTCTurk API (BTCTURK_BASE_URL) into a replay dataset")
    options.dataset(p, options.NEW_FOLDER_HELP)
    p.add_argument("--symbols", required=True, help="pairs, comma separated, e.g. BTCTRY,ETHTRY")
    p.add_argument("--minutes", type=float, required=True, help="how long to poll ticker and order book")
    p.add_argument("--poll-interval", type=float, default=10.0, help="seconds between polls (default 10)")
    p.add_argument(
        "--history-minutes", type=int, default=60, help="1-minute candles fetched before the capture start (default 60)"
    )
    options.env_file(p)
    p.set_defaults(func=_replay_capture)


def add_import(sub: options.Subparsers) -> None:
    p = sub.add_parser("replay-import", help="turn Freqtrade OHLCV candles into a replay dataset")
    p.add_argument("--ohlcv", required=True, help="folder of <BASE>_<QUOTE>-<tf>.feather|json|csv files")
    p.add_argument("--quote", required=True, help="target quote currency, e.g. TRY")
    p.add_argument("--rate", required=True, help="target quote per source quote, e.g. 100000")
    p.add_argument("--pairs", help="e.g. ETH/BTC,LTC_BTC (default: every pair of the timeframe)")
    p.add_argument("--timeframe", help="e.g. 5m (default: the only one in the folder)")
    p.add_argument(
        "--min-notional",
        default=str(DEFAULT_MIN_NOTIONAL),
        help=f"minExchangeValue written for every pair (default {DEFAULT_MIN_NOTIONAL})",
    )
    options.dataset(p, options.NEW_FOLDER_HELP)
    p.set_defaults(func=_replay_import)
