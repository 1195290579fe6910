"""Parameter sweeps: many backtest specs launched as one Dagster job's partitions, one leaderboard."""
