"""``btcbot``: what Dagster's own CLI does not cover.

Commands call the same functions the assets call and hold no logic of their own:

- ``replay-init``      write a deterministic synthetic replay dataset
- ``replay-validate``  check a dataset against the replay contract (exit 1 on errors)
- ``summary``          print a materialized cycle's summary from the book
- ``settings``         print the effective settings (secrets masked) or the refusal
- ``doctor``           settings, source (dataset or exchange), universe, storage and rules checks without a
                       cycle (exit 0/1/2)
- ``preflight``        may the live job start: the arm state, then gates, credentials, clock, universe rules,
                       caps and the live book (exit 0/1/2)
- ``live-cycle``       one LIVE cycle now through the live job (preflight first), then its summary
- ``health``           probe the configured market-data source, one line per probe (exit 0 healthy, 1
                       degraded, 2 unusable)
- ``risk clear``       record an operator clear of the risk budget's tripped limits
- ``alerts``           list the book's alerts, oldest first (``--since``, ``--json``)
- ``replay-capture``   poll the live BTCTurk API into a replay dataset with a manifest
- ``replay-import``    turn Freqtrade OHLCV files (feather/json/csv) into a replay dataset
- ``fake-btcturk``     serve a fake BTCTurk on 127.0.0.1 (demos; tests use the same server)
- ``backtest``         a named backtest over a replay dataset as one Dagster run, then its report
- ``sweep``            many parameter sets of a backtest as one Dagster job's queued runs, then a leaderboard
- ``report``           a book's performance report and equity/drawdown chart (``--compare`` a second)
- ``fingerprint``      sha256 of a book's canonical outputs, per table, over an optional window
- ``parity``           compare two books' outputs: exit 0 equal, 1 with the first difference, 2 error
- ``export``           every table of a book as CSV or Parquet files, money exact

One module per topic (:mod:`.replay`, :mod:`.book`, :mod:`.backtest`, :mod:`.ops`, :mod:`.preflight`,
:mod:`.live`), each
adding its commands' parsers; the options they share are declared once, in :mod:`.options`.
Errors of our own (:class:`~btcbot_pipeline.errors.BtcbotError`) print as ``ErrorType: message``
with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from typing import NoReturn, Sequence

from btcbot_pipeline.cli import backtest, book, live, ops, preflight, replay, sweep
from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.logs import configure_cli_logging

# in the order `btcbot --help` lists them
COMMANDS = (
    replay.add_init,
    replay.add_validate,
    book.add_summary,
    book.add_alerts,
    ops.add_settings,
    replay.add_capture,
    replay.add_import,
    ops.add_fake_btcturk,
    ops.add_doctor,
    ops.add_health,
    preflight.add_preflight,
    live.add_live_cycle,
    book.add_risk,
    book.add_report,
    book.add_fingerprint,
    backtest.add_backtest,
    sweep.add_sweep,
    book.add_parity,
    book.add_export,
    book.add_verify,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="btcbot", description="btcbot_pipeline tools (cycles run through Dagster)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def run() -> NoReturn:
    """The ``btcbot`` command: :func:`main`, then the process ends without tearing down
    its objects one by one.

    A backtest leaves hundreds of megabytes of small objects behind; freeing them at
    interpreter shutdown, and waiting for the gate worker's own teardown, took 1.5–3 s
    after the last line was printed. Here, once the command returned: output is flushed,
    idle gate workers are terminated and reaped, every exit handler runs (logging,
    temporary directories, multiprocessing's finalizers and the resource tracker), and the
    process exits with the command's code. No process outlives it."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, a usage error
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    from btcbot_pipeline.quality.worker import end_idle_workers

    sys.stdout.flush()
    sys.stderr.flush()
    end_idle_workers()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_cli_logging(getattr(args, "env_file", ".env"))  # LOG_LEVEL; refused settings give INFO
    try:
        return args.func(args)
    except BtcbotError as exc:  # ours (a setting, a dataset, a book, the exchange...): one line, exit 2
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
