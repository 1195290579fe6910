"""Operating the bot: ``settings``, ``doctor``, ``health``, ``fake-btcturk``."""

from __future__ import annotations

import argparse

from btcbot_pipeline.cli import options
from btcbot_pipeline.settings import load_settings


def _settings(args: argparse.Namespace) -> int:
    settings = load_settings(args.env_file)
    width = max(len(k) for k in settings.safe_summary())
    for key, value in settings.safe_summary().items():
        print(f"{key:<{width}}  {value}")
    return 0


def _fake_btcturk(args: argparse.Namespace) -> int:
    import time

    from btcbot_pipeline.testing.fake_btcturk import (
        FAKE_API_KEY,
        FAKE_API_SECRET,
        FakeBtcturk,
        FakeMarket,
    )

    fake = FakeBtcturk(FakeMarket() if args.recorded else FakeMarket.demo(), port=args.port).start()
    print(
        f"fake BTCTurk on {fake.url} ({'recorded payloads' if args.recorded else 'live-stamped demo market'}); "
        "Ctrl-C stops it"
    )
    print(f"  BTCTURK_BASE_URL={fake.url} BTCTURK_GRAPH_BASE_URL={fake.url} MARKET_DATA_SOURCE=btcturk")
    print(
        f"  private endpoints accept BTCTURK_API_KEY={FAKE_API_KEY} BTCTURK_API_SECRET={FAKE_API_SECRET} (fake "
        "credentials)"
    )
    print(
        f'  inject faults: curl -X POST {fake.url}/_fake/faults -d \'{{"path": "/api/v2/orderbook", "kind": "503"}}\'',
        flush=True,
    )
    try:
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from btcbot_pipeline.doctor import exit_code, format_checks, run_doctor

    checks = run_doctor(dataset=args.dataset, db=args.db, env_file=args.env_file, max_skew_ms=args.max_skew_ms)
    print(format_checks(checks))
    return exit_code(checks)


def _health(args: argparse.Namespace) -> int:
    from btcbot_pipeline.health import run_health

    health = run_health(args.env_file, max_skew_ms=args.max_skew_ms)
    print(health.as_json() if args.json else health.text())
    return health.exit_code


def add_settings(sub: options.Subparsers) -> None:
    p = sub.add_parser("settings", help="print the effective settings, secrets masked")
    options.env_file(p)
    p.set_defaults(func=_settings)


def add_fake_btcturk(sub: options.Subparsers) -> None:
    p = sub.add_parser("fake-btcturk", help="serve a fake BTCTurk API on 127.0.0.1 for demos and tests")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument(
        "--recorded",
        action="store_true",
        help="serve the recorded 2022 payloads instead of the live-stamped demo market",
    )
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=_fake_btcturk)


def add_doctor(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "doctor",
        help="check settings, the market-data source, universe, storage and symbol rules without running a cycle "
        "(exit 0/1/2)",
    )
    options.dataset(
        p, "replay dataset (default REPLAY_DATASET_PATH; only with MARKET_DATA_SOURCE=replay)", required=False
    )
    options.db(p)
    options.env_file(p)
    options.max_skew_ms(p, "passes")
    p.set_defaults(func=_doctor)


def add_health(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "health", help="probe the configured market-data source (exit 0 healthy, 1 degraded, 2 unusable)"
    )
    options.env_file(p)
    options.as_json(p, "print the probes as JSON")
    options.max_skew_ms(p, "is healthy")
    p.set_defaults(func=_health)
