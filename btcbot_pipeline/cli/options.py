"""Options several commands share, declared once: each helper adds one option (or one
pair) to a command's parser with the same flags, defaults and help everywhere."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from btcbot_pipeline.domain.utc import ARGUMENT, parse_first
from btcbot_pipeline.health import DEFAULT_MAX_SKEW_MS

BOOK_HELP = "book file, or backtest name (BACKTEST_DIR/<name>.duckdb)"
NEW_FOLDER_HELP = "folder to write (created if missing)"

if TYPE_CHECKING:  # what each topic module's add_* functions add their command to
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def utc(text: str) -> datetime:
    """An argument's UTC time (``2026-01-01T00:30``, seconds and a ``Z`` allowed)."""
    parsed = parse_first(text, ARGUMENT)
    if parsed is not None:
        return parsed
    raise argparse.ArgumentTypeError(f"not a UTC time like 2026-01-01T00:30, was {text!r}")


def dataset(p: argparse.ArgumentParser, help: str | None = None, *, required: bool = True) -> None:
    p.add_argument("--dataset", required=required, help=help)


def env_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env-file", default=".env")


def db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="DuckDB book (default STATE_DB_PATH)")


def as_json(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--json", action="store_true", help=help)


def book(
    p: argparse.ArgumentParser, dest: str = "book", *, metavar: str | None = None, optional_help: str | None = None
) -> None:
    """A positional book: a file or a backtest name (``optional_help``: it may be left out)."""
    if optional_help is None:
        p.add_argument(dest, metavar=metavar, help=BOOK_HELP)
    else:
        p.add_argument(dest, nargs="?", metavar=metavar, help=f"{BOOK_HELP}; {optional_help}")


def window(p: argparse.ArgumentParser) -> None:
    """``--start``/``--end``: an optional window of a book's cycles."""
    p.add_argument("--start", type=utc, help="first cycle of the window, UTC (default: the first)")
    p.add_argument("--end", type=utc, help="end of the window, exclusive, UTC (default: after the last)")


def max_skew_ms(p: argparse.ArgumentParser, passes: str) -> None:
    p.add_argument(
        "--max-skew-ms",
        type=int,
        default=DEFAULT_MAX_SKEW_MS,
        help=f"largest exchange clock skew that {passes} (default {DEFAULT_MAX_SKEW_MS})",
    )


def settings_overrides(p: argparse.ArgumentParser, what: str) -> None:
    """``--set KEY=VALUE`` (repeatable) and ``--params FILE``: settings for ``what``."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=f"a setting for {what} (repeatable)")
    p.add_argument("--params", metavar="FILE", help=f"settings for {what}: KEY=VALUE lines or a JSON object")


def partition(p: argparse.ArgumentParser) -> None:
    p.add_argument("--partition", choices=("day", "week"), default="day", help="Dagster partition size (default day)")


def workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", default="workspace.yaml", help="Dagster workspace with the btcbot_backtests location")
