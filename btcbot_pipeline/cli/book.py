"""Reading and operating a book: ``summary``, ``alerts``, ``risk clear``, ``report``,
``fingerprint``, ``parity``, ``export``, ``verify``."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from btcbot_pipeline.cli import options
from btcbot_pipeline.domain import utc
from btcbot_pipeline.reporting.cycle_summary import ReportError, cycle_summary, latest_cycle_ts
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings
from btcbot_pipeline.storage.book import BookError


def _summary(args: argparse.Namespace) -> int:
    from btcbot_pipeline.reporting.books import open_book
    from btcbot_pipeline.storage.book import Book

    db = args.db or load_settings().state_db_path
    if not Path(db).exists():
        raise ReportError(f"no book at {db}: materialize a cycle first (see README)")
    with open_book(Path(db)) as con:  # a writer's lock: one clear line, not DuckDB's traceback
        book = Book(con)
        ts = args.partition or latest_cycle_ts(book)
        print(cycle_summary(book, ts, _settings_or_none()))
    return 0


def _settings_or_none() -> BotSettings | None:
    """The settings, for the gates' limits a stopped cycle's summary quotes (``None`` when
    they do not load: the summary still prints, quoting the defaults)."""
    try:
        return load_settings()
    except SettingsError:
        return None


def _alerts(args: argparse.Namespace) -> int:
    import json

    from btcbot_pipeline.alerting import line, listing
    from btcbot_pipeline.reporting.books import open_book
    from btcbot_pipeline.storage.book import Book

    db = args.db or load_settings().state_db_path
    if not Path(db).exists():
        raise ReportError(f"no book at {db}: materialize a cycle first (see README)")
    with open_book(Path(db)) as con:  # a writer's lock: one clear line, not DuckDB's traceback
        rows = Book(con).alerts(since=args.since)
    if args.json:
        print(json.dumps(listing(rows), indent=2, ensure_ascii=False))
    elif rows:
        print("\n".join(line(row) for row in rows))
    else:
        print(f"no alerts in {db}" + (f" since {utc.minute_text(args.since)} UTC" if args.since else ""))
    return 0


def _risk_clear(args: argparse.Namespace) -> int:
    import getpass
    import hashlib

    import duckdb

    from btcbot_pipeline.storage.book import Book

    reason = args.reason.strip()
    if not reason:
        raise ReportError("risk clear needs a non-empty --reason")
    db = args.db or load_settings().state_db_path
    if not Path(db).exists():
        raise ReportError(f"no book at {db}: nothing to clear")
    now = datetime.now(timezone.utc)
    operator = args.operator or getpass.getuser()
    clear_id = (
        "clr-"
        + utc.cycle_id(now)
        + "-"
        + hashlib.sha256(f"{utc.iso(now)}|{reason}|{operator}".encode()).hexdigest()[:6]
    )
    from btcbot_pipeline.reporting.books import access_error

    try:
        con = duckdb.connect(db)
    except duckdb.Error as exc:  # a running cycle holds the book: say so in one line
        raise access_error(Path(db), exc) from None
    with con:
        Book(con).add_clear(clear_id, now, reason, operator)
    print(
        f"recorded {clear_id} by {operator}: {reason!r}; the next materialized cycle drops the risk latches and "
        "records it"
    )
    return 0


def _books(*names: str) -> list[Path]:
    from btcbot_pipeline.reporting.books import resolve_book

    settings = load_settings()
    return [resolve_book(name, settings) for name in names]


def _report(args: argparse.Namespace) -> int:
    from btcbot_pipeline.reporting.chart import report_books
    from btcbot_pipeline.reporting.report import format_text

    names = [args.book] + ([args.compare] if args.compare else [])
    reports, chart = report_books(_books(*names), None if args.out is None else Path(args.out))
    print(format_text(reports))
    print(f"chart {chart}")
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    from btcbot_pipeline.reporting.fingerprint import fingerprint_book

    print(fingerprint_book(_books(args.book)[0], args.start, args.end).text())
    return 0


def _parity(args: argparse.Namespace) -> int:
    from btcbot_pipeline.reporting.fingerprint import compare_books

    book_a, book_b = _books(args.book_a, args.book_b)
    parity = compare_books(book_a, book_b, args.start, args.end)
    print(parity.text())
    return 0 if parity.agree else 1


def _export(args: argparse.Namespace) -> int:
    from btcbot_pipeline.reporting.export import export_book

    exported = export_book(_books(args.book)[0], Path(args.out), args.format, force=args.force)
    print(f"wrote {len(exported)} tables as {args.format} to {args.out}")
    for e in exported:
        print(f"  {e.table:<20} {e.rows:>8} rows  {e.path.name}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from btcbot_pipeline.reporting.books import open_book
    from btcbot_pipeline.storage.verify import verify_book

    book = _books(args.book)[0] if args.book else Path(load_settings().state_db_path)
    if not book.is_file():
        raise BookError(f"no book at {book}")
    with open_book(book) as con:
        report = verify_book(con, rows_last=args.last)
    for finding in report.findings:
        print(finding.line())
    errors = len(report.errors())
    verdict = {0: "OK", 1: "WARN", 2: "FAIL"}[report.exit_code]
    print(
        f"verify {book}: {report.cycles} cycles, rows of {report.rows_checked} recomputed, "
        f"{errors} error(s), {len(report.findings) - errors} warning(s) → {verdict}"
    )
    return report.exit_code


def add_summary(sub: options.Subparsers) -> None:
    p = sub.add_parser("summary", help="print the summary of a materialized cycle")
    p.add_argument("--partition", type=options.utc, help="cycle partition key, e.g. 2026-01-01T00:30 (default: latest)")
    options.db(p)
    p.set_defaults(func=_summary)


def add_alerts(sub: options.Subparsers) -> None:
    p = sub.add_parser("alerts", help="list the book's alerts, oldest first, one line each")
    p.add_argument(
        "--since", type=options.utc, help="only alerts of cycles at or after this UTC time, e.g. 2026-01-01T00:30"
    )
    options.as_json(p, "print a JSON array (the webhook fields and the delivery status)")
    options.db(p)
    p.set_defaults(func=_alerts)


def add_risk(sub: options.Subparsers) -> None:
    p = sub.add_parser("risk", help="risk budget operations")
    risk_sub = p.add_subparsers(dest="risk_command", required=True)
    p = risk_sub.add_parser("clear", help="clear the tripped risk limits from the next materialized cycle on")
    p.add_argument("--reason", required=True, help="why (lands in the trace's mode reasons)")
    p.add_argument("--operator", help="who (default: the OS user)")
    options.db(p)
    p.set_defaults(func=_risk_clear)


def add_report(sub: options.Subparsers) -> None:
    p = sub.add_parser("report", help="performance report of a book, with an equity and drawdown chart")
    options.book(p)
    p.add_argument(
        "--compare",
        metavar="OTHER",
        help="a second book: reported side by side with their difference (OTHER − BOOK), drawn on the same chart",
    )
    p.add_argument("--out", metavar="DIR", help="folder for the chart PNG (default: the book's folder)")
    p.set_defaults(func=_report)


def add_fingerprint(sub: options.Subparsers) -> None:
    p = sub.add_parser("fingerprint", help="sha256 of a book's canonical outputs, per table")
    options.book(p)
    options.window(p)
    p.set_defaults(func=_fingerprint)


def add_parity(sub: options.Subparsers) -> None:
    p = sub.add_parser("parity", help="compare two books' outputs (exit 0 equal, 1 different, 2 error)")
    options.book(p, "book_a", metavar="A")
    options.book(p, "book_b", metavar="B")
    options.window(p)
    p.set_defaults(func=_parity)


def add_export(sub: options.Subparsers) -> None:
    p = sub.add_parser("export", help="write every table of a book as CSV or Parquet, money exact")
    options.book(p)
    p.add_argument("--format", choices=("csv", "parquet"), required=True)
    p.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="a new or empty folder to write <table>.csv|parquet to (created if missing)",
    )
    p.add_argument("--force", action="store_true", help="overwrite files already in --out")
    p.set_defaults(func=_export)


def add_verify(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "verify",
        help="check a whole book: seals, chain, money identities, fills, gaps (exit 0 ok, 1 warnings, 2 errors)",
    )
    options.book(p, optional_help="default STATE_DB_PATH")
    p.add_argument(
        "--last",
        type=int,
        metavar="N",
        help="recompute the rows of the last N cycles only (the book-wide checks cover all)",
    )
    p.set_defaults(func=_verify)
