"""Reading books back: reports, charts, fingerprints, parity and exports.

- :mod:`.errors`       the error classes (the CLI catches ReportingError)
- :mod:`.books`        find a book by path or backtest name, open it read-only
- :mod:`.canonical`    canonical text of the output tables (what "the same" means)
- :mod:`.fingerprint`  sha256 fingerprint of a book, parity of two books
- :mod:`.jsondiff`     the first differing path of two JSON texts
- :mod:`.report`       :class:`~.report.BacktestReport`: return, drawdown, PnL, costs, modes
- :mod:`.chart`        equity and drawdown PNG, one or several books
- :mod:`.export`       every table as CSV or Parquet, money exact
- :mod:`.cycle_summary` one cycle read back from the dry-run book, as ``btcbot summary`` prints it

The ``btcbot`` commands ``report``, ``fingerprint``, ``parity``, ``export`` and ``summary`` call these.
"""
