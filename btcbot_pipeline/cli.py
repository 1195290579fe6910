"""``btcbot``: what Dagster's own CLI does not cover.

Commands call the same functions the assets call and hold no logic of their own:

- ``replay-init``      write a deterministic synthetic replay dataset
- ``replay-validate``  check a dataset against the replay contract (exit 1 on errors)
- ``summary``          print a materialized cycle's summary from the book
- ``settings``         print the effective settings (secrets masked) or the refusal
- ``doctor``           settings, source (dataset or exchange), universe, storage and rules checks without a cycle (exit 0/1/2)
- ``health``           probe the configured market-data source, one line per probe (exit 0 healthy, 1 degraded, 2 unusable)
- ``risk clear``       record an operator clear of the risk budget's tripped limits
- ``alerts``           list the book's alerts, oldest first (``--since``, ``--json``)
- ``replay-capture``   poll the live BTCTurk API into a replay dataset with a manifest
- ``replay-import``    turn Freqtrade OHLCV files (feather/json/csv) into a replay dataset
- ``fake-btcturk``     serve a fake BTCTurk on 127.0.0.1 (demos; tests use the same server)
- ``backtest``         a named backtest over a replay dataset as one Dagster run, then its report
- ``report``           a book's performance report and equity/drawdown chart (``--compare`` a second)
- ``fingerprint``      sha256 of a book's canonical outputs, per table, over an optional window
- ``parity``           compare two books' outputs: exit 0 equal, 1 with the first difference, 2 error
- ``export``           every table of a book as CSV or Parquet files, money exact

Errors of our own print as ``ErrorType: message`` with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from btcbot_pipeline.adapters.btcturk.capture import CaptureError
from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
from btcbot_pipeline.adapters.replay.dataset import ReplayDatasetError
from btcbot_pipeline.adapters.replay.importer import (
    DEFAULT_MIN_NOTIONAL,
    ReplayImportError,
    import_freqtrade_ohlcv,
    parse_pair_list,
)
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.defs.backtest.spec import SpecError
from btcbot_pipeline.health import DEFAULT_MAX_SKEW_MS
from btcbot_pipeline.reporting.errors import ReportingError
from btcbot_pipeline.reports import ReportError, cycle_summary, latest_cycle_ts
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings
from btcbot_pipeline.storage.book import BookError

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

    from btcbot_pipeline.storage.book import Book

    db = args.db or load_settings().state_db_path
    if not Path(db).exists():
        raise ReportError(f"no book at {db}: materialize a cycle first (see README)")
    from btcbot_pipeline.reporting.books import open_book

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

    from btcbot_pipeline.alerts import line, listing
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
        print(f"no alerts in {db}" + (f" since {args.since:%Y-%m-%dT%H:%M} UTC" if args.since else ""))
    return 0


def _settings(args: argparse.Namespace) -> int:
    settings = load_settings(args.env_file)
    width = max(len(k) for k in settings.safe_summary())
    for key, value in settings.safe_summary().items():
        print(f"{key:<{width}}  {value}")
    return 0


def _replay_capture(args: argparse.Namespace) -> int:
    from btcbot_pipeline.adapters.btcturk.capture import capture_replay_dataset
    from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient, ClientConfig

    settings = load_settings(args.env_file)
    config = ClientConfig(base_url=settings.btcturk_base_url, graph_base_url=settings.btcturk_graph_base_url, timeout_s=settings.btcturk_timeout_sec,
                          call_deadline_s=settings.btcturk_call_deadline_sec, max_body_bytes=settings.btcturk_max_body_bytes)
    symbols = [s for s in args.symbols.replace(" ", ",").split(",") if s]
    with BtcturkPublicClient(config) as client:
        manifest = capture_replay_dataset(
            client, args.dataset, symbols, minutes=args.minutes, poll_interval_s=args.poll_interval, history_minutes=args.history_minutes
        )
    print(f"captured {', '.join(manifest.symbols)} from {manifest.source['base_url']} "
          f"({manifest.started_at} … {manifest.ended_at}, {manifest.polls} polls) to {args.dataset}")
    for rel, count in manifest.rows.items():
        print(f"  {rel}: {count} rows")
    if manifest.failures:
        print("  failed calls: " + ", ".join(f"{k} {v}" for k, v in sorted(manifest.failures.items())))
    return 0


def _replay_import(args: argparse.Namespace) -> int:
    pairs = None if args.pairs is None else parse_pair_list(args.pairs)
    summary = import_freqtrade_ohlcv(
        args.ohlcv, args.dataset, quote=args.quote, rate=args.rate, pairs=pairs,
        timeframe=args.timeframe, min_notional=args.min_notional,
    )
    print(f"imported {summary.timeframe} bars of {', '.join(p.symbol for p in summary.pairs)} "
          f"(source prices × {args.rate} {summary.quote}) from {args.ohlcv} to {summary.path}")
    for p in summary.pairs:
        skipped = sum(p.skipped.values())
        print(f"  {p.symbol:<10} {p.rows} rows {p.first_ts} … {p.last_ts}, "
              f"{p.missing_bars} missing bars, {skipped} bad rows skipped, tick {p.rules.tick_size}")
    return 0


def _fake_btcturk(args: argparse.Namespace) -> int:
    import time

    from btcbot_pipeline.adapters.btcturk.fake import (
        FAKE_API_KEY,
        FAKE_API_SECRET,
        FakeBtcturk,
        FakeMarket,
    )

    fake = FakeBtcturk(FakeMarket() if args.recorded else FakeMarket.demo(), port=args.port).start()
    print(f"fake BTCTurk on {fake.url} ({'recorded payloads' if args.recorded else 'live-stamped demo market'}); Ctrl-C stops it")
    print(f"  BTCTURK_BASE_URL={fake.url} BTCTURK_GRAPH_BASE_URL={fake.url} MARKET_DATA_SOURCE=btcturk")
    print(f"  private endpoints accept BTCTURK_API_KEY={FAKE_API_KEY} BTCTURK_API_SECRET={FAKE_API_SECRET} (fake credentials)")
    print(f"  inject faults: curl -X POST {fake.url}/_fake/faults -d '{{\"path\": \"/api/v2/orderbook\", \"kind\": \"503\"}}'", flush=True)
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
    clear_id = "clr-" + now.strftime("%Y%m%dT%H%M%SZ") + "-" + hashlib.sha256(f"{now.isoformat()}|{reason}|{operator}".encode()).hexdigest()[:6]
    from btcbot_pipeline.reporting.books import access_error

    try:
        con = duckdb.connect(db)
    except duckdb.Error as exc:  # a running cycle holds the book: say so in one line
        raise access_error(Path(db), exc) from None
    with con:
        Book(con).add_clear(clear_id, now, reason, operator)
    print(f"recorded {clear_id} by {operator}: {reason!r}; the next materialized cycle drops the risk latches and records it")
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
    print(f"verify {book}: {report.cycles} cycles, rows of {report.rows_checked} recomputed, "
          f"{errors} error(s), {len(report.findings) - errors} warning(s) → {verdict}")
    return report.exit_code


def _backtest(args: argparse.Namespace) -> int:
    from btcbot_pipeline.quality.worker import discard_prestarted, prestart

    prestart()  # Great Expectations starts loading in its worker process while we check and set up
    try:
        return _run_backtest(args)
    finally:
        discard_prestarted()  # a refused backtest never took the worker: end it now, not after its import


def _run_backtest(args: argparse.Namespace) -> int:
    import time

    from btcbot_pipeline.adapters.replay.span import dataset_span
    from btcbot_pipeline.defs.backtest.run import prepare, run, show_progress
    from btcbot_pipeline.defs.backtest.spec import make_spec, parse_sets, read_params_file
    from btcbot_pipeline.reporting.books import open_book
    from btcbot_pipeline.reporting.report import build_report, format_text

    checked = validate_replay_dataset(args.dataset)
    if not checked.ok:
        print(checked.format_text(), file=sys.stderr)
        print(f"backtest not started: the dataset {args.dataset} has errors (btcbot replay-validate lists them)", file=sys.stderr)
        return 2
    span = dataset_span(args.dataset)
    if span is not None and (args.start < span.first or args.start > span.last):
        print(f"backtest not started: --start {args.start:%Y-%m-%dT%H:%M} is outside the dataset's order books "
              f"({span.first:%Y-%m-%dT%H:%M} … {span.last:%Y-%m-%dT%H:%M} UTC); a cycle without data stops at the "
              "market gate: start within that span", file=sys.stderr)
        return 2
    settings = load_settings(args.env_file)
    spec = make_spec(
        name=args.name, dataset=str(Path(args.dataset).resolve()), start=args.start, end=args.end,
        partition=args.partition, env_file=args.env_file,
        params=read_params_file(args.params) if args.params else None, sets=parse_sets(args.set),
    )
    prepare(spec, settings.backtest_dir, replace=args.replace)
    print(f"backtest {spec.name}: {args.dataset}, {spec.start:%Y-%m-%dT%H:%M} … {spec.end:%Y-%m-%dT%H:%M} UTC "
          f"by {spec.partition}, book {settings.backtest_dir}/{spec.name}.duckdb", flush=True)
    show_progress()
    t0 = time.perf_counter()
    outcome = run(spec, settings.backtest_dir)
    seconds = time.perf_counter() - t0
    if not outcome.success:
        print(f"backtest {spec.name} STOPPED: {outcome.failure}", file=sys.stderr)
        return 1
    with open_book(outcome.book) as con:  # the run drew the chart beside the book already
        report = build_report(con, label=spec.name)
    print(f"done: {report.cycles} cycles in {seconds:.1f} s ({report.cycles / seconds:,.0f} cycles/s), Dagster run {outcome.run_id}")
    print(format_text([report]))
    print(f"chart {outcome.book.with_suffix('.png')}")
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

    p = sub.add_parser("alerts", help="list the book's alerts, oldest first, one line each")
    p.add_argument("--since", type=_utc, help="only alerts of cycles at or after this UTC time, e.g. 2026-01-01T00:30")
    p.add_argument("--json", action="store_true", help="print a JSON array (the webhook fields and the delivery status)")
    p.add_argument("--db", help="DuckDB book (default STATE_DB_PATH)")
    p.set_defaults(func=_alerts)

    p = sub.add_parser("settings", help="print the effective settings, secrets masked")
    p.add_argument("--env-file", default=".env")
    p.set_defaults(func=_settings)

    p = sub.add_parser("replay-capture", help="capture the live BTCTurk API (BTCTURK_BASE_URL) into a replay dataset")
    p.add_argument("--dataset", required=True, help="folder to write (created if missing)")
    p.add_argument("--symbols", required=True, help="pairs, comma separated, e.g. BTCTRY,ETHTRY")
    p.add_argument("--minutes", type=float, required=True, help="how long to poll ticker and order book")
    p.add_argument("--poll-interval", type=float, default=10.0, help="seconds between polls (default 10)")
    p.add_argument("--history-minutes", type=int, default=60, help="1-minute candles fetched before the capture start (default 60)")
    p.add_argument("--env-file", default=".env")
    p.set_defaults(func=_replay_capture)

    p = sub.add_parser("replay-import", help="turn Freqtrade OHLCV candles into a replay dataset")
    p.add_argument("--ohlcv", required=True, help="folder of <BASE>_<QUOTE>-<tf>.feather|json|csv files")
    p.add_argument("--quote", required=True, help="target quote currency, e.g. TRY")
    p.add_argument("--rate", required=True, help="target quote per source quote, e.g. 100000")
    p.add_argument("--pairs", help="e.g. ETH/BTC,LTC_BTC (default: every pair of the timeframe)")
    p.add_argument("--timeframe", help="e.g. 5m (default: the only one in the folder)")
    p.add_argument("--min-notional", default=str(DEFAULT_MIN_NOTIONAL), help=f"minExchangeValue written for every pair (default {DEFAULT_MIN_NOTIONAL})")
    p.add_argument("--dataset", required=True, help="folder to write (created if missing)")
    p.set_defaults(func=_replay_import)

    p = sub.add_parser("fake-btcturk", help="serve a fake BTCTurk API on 127.0.0.1 for demos and tests")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--recorded", action="store_true", help="serve the recorded 2022 payloads instead of the live-stamped demo market")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=_fake_btcturk)

    p = sub.add_parser("doctor", help="check settings, the market-data source, universe, storage and symbol rules without running a cycle (exit 0/1/2)")
    p.add_argument("--dataset", help="replay dataset (default REPLAY_DATASET_PATH; only with MARKET_DATA_SOURCE=replay)")
    p.add_argument("--db", help="DuckDB book (default STATE_DB_PATH)")
    p.add_argument("--env-file", default=".env")
    p.add_argument("--max-skew-ms", type=int, default=DEFAULT_MAX_SKEW_MS, help=f"largest exchange clock skew that passes (default {DEFAULT_MAX_SKEW_MS})")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("health", help="probe the configured market-data source (exit 0 healthy, 1 degraded, 2 unusable)")
    p.add_argument("--env-file", default=".env")
    p.add_argument("--json", action="store_true", help="print the probes as JSON")
    p.add_argument("--max-skew-ms", type=int, default=DEFAULT_MAX_SKEW_MS, help=f"largest exchange clock skew that is healthy (default {DEFAULT_MAX_SKEW_MS})")
    p.set_defaults(func=_health)

    p = sub.add_parser("risk", help="risk budget operations")
    risk_sub = p.add_subparsers(dest="risk_command", required=True)
    p = risk_sub.add_parser("clear", help="clear the tripped risk limits from the next materialized cycle on")
    p.add_argument("--reason", required=True, help="why (lands in the trace's mode reasons)")
    p.add_argument("--operator", help="who (default: the OS user)")
    p.add_argument("--db", help="DuckDB book (default STATE_DB_PATH)")
    p.set_defaults(func=_risk_clear)

    book_help = "book file, or backtest name (BACKTEST_DIR/<name>.duckdb)"
    p = sub.add_parser("report", help="performance report of a book, with an equity and drawdown chart")
    p.add_argument("book", help=book_help)
    p.add_argument("--compare", metavar="OTHER", help="a second book: reported side by side with their difference (OTHER − BOOK), drawn on the same chart")
    p.add_argument("--out", metavar="DIR", help="folder for the chart PNG (default: the book's folder)")
    p.set_defaults(func=_report)

    p = sub.add_parser("fingerprint", help="sha256 of a book's canonical outputs, per table")
    p.add_argument("book", help=book_help)
    p.add_argument("--start", type=_utc, help="first cycle of the window, UTC (default: the first)")
    p.add_argument("--end", type=_utc, help="end of the window, exclusive, UTC (default: after the last)")
    p.set_defaults(func=_fingerprint)

    p = sub.add_parser("backtest", help="run a named backtest over a replay dataset as one Dagster run, then report it")
    p.add_argument("--dataset", required=True, help="replay dataset folder (validated first; errors exit 2)")
    p.add_argument("--start", type=_utc, required=True, help="first cycle, UTC (e.g. 2018-01-10T00:00)")
    p.add_argument("--end", type=_utc, required=True, help="end of the window, exclusive, UTC")
    p.add_argument("--name", required=True, help="its book is BACKTEST_DIR/NAME.duckdb (letters, digits, _)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting for this backtest (repeatable)")
    p.add_argument("--params", metavar="FILE", help="settings for this backtest: KEY=VALUE lines or a JSON object")
    p.add_argument("--partition", choices=("day", "week"), default="day", help="Dagster partition size (default day)")
    p.add_argument("--replace", action="store_true", help="delete an existing backtest of this name first")
    p.add_argument("--env-file", default=".env")
    p.set_defaults(func=_backtest)

    p = sub.add_parser("parity", help="compare two books' outputs (exit 0 equal, 1 different, 2 error)")
    p.add_argument("book_a", metavar="A", help=book_help)
    p.add_argument("book_b", metavar="B", help=book_help)
    p.add_argument("--start", type=_utc, help="first cycle of the window, UTC (default: the first)")
    p.add_argument("--end", type=_utc, help="end of the window, exclusive, UTC (default: after the last)")
    p.set_defaults(func=_parity)

    p = sub.add_parser("export", help="write every table of a book as CSV or Parquet, money exact")
    p.add_argument("book", help=book_help)
    p.add_argument("--format", choices=("csv", "parquet"), required=True)
    p.add_argument("--out", metavar="DIR", required=True, help="a new or empty folder to write <table>.csv|parquet to (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite files already in --out")
    p.set_defaults(func=_export)

    p = sub.add_parser("verify", help="check a whole book: seals, chain, money identities, fills, gaps (exit 0 ok, 1 warnings, 2 errors)")
    p.add_argument("book", nargs="?", help=book_help + "; default STATE_DB_PATH")
    p.add_argument("--last", type=int, metavar="N", help="recompute the rows of the last N cycles only (the book-wide checks cover all)")
    p.set_defaults(func=_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, ReplayDatasetError, ReportError, BtcturkError, CaptureError, ReplayImportError,
            ReportingError, SpecError, BookError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


