"""``btcbot preflight [--profile live] [--env-file .env]``: the arm state, one line per gate,
then every check of :func:`btcbot_pipeline.preflight.preflight` and a verdict; exit 0 armed
(warnings allowed), 1 a check failed (the kill switch included: the pilot's safe state),
2 the settings are refused (one line per problem) or the profile is unknown."""

from __future__ import annotations

import argparse

from btcbot_pipeline.cli import options


def _preflight(args: argparse.Namespace) -> int:
    from btcbot_pipeline.preflight import run_preflight

    report = run_preflight(args.env_file, profile=args.profile)
    print(report.text(), flush=True)
    return report.exit_code


def add_preflight(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "preflight",
        help="check that the live job may start: the four gates, credentials (a balances read), clock skew, "
        "universe rules, caps and the live book (exit 0 armed, 1 a check failed, 2 settings refused)",
    )
    p.add_argument("--profile", default="live", help="the profile to check (only: live)")
    options.env_file(p)
    p.set_defaults(func=_preflight)
