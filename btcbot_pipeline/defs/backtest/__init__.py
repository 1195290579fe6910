"""Backtests: one graph of the seven cycle assets per backtest spec, each with its own book."""
