"""The book's schema: each table's columns and DuckDB types, in one place.

:data:`TABLES` names every column of every cycle table in order (the shape
:mod:`~btcbot_pipeline.storage.rows` builds, the book inserts, the gates read, and
fingerprints, parity and export compare); :data:`AUX_TABLES` the tables without a cycle.
:data:`SCHEMA_VERSION` with :data:`MIGRATIONS` says how a book of an older version becomes
this one. Pure data: no DuckDB connection here.
"""

from __future__ import annotations

from datetime import datetime, timezone

MONEY = "DECIMAL(38, 18)"

# table → ordered (column, SQL type). Order is the insert order of row tuples.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "market_snapshot": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("symbol", "VARCHAR"),
        ("source", "VARCHAR"),
        ("tradable", "BOOLEAN"),
        ("skip_reason", "VARCHAR"),
        ("data_ts", "TIMESTAMP"),
        ("staleness_s", "BIGINT"),
        ("best_bid", MONEY),
        ("best_ask", MONEY),
        ("mark_price_try", MONEY),
        ("spread_bps", MONEY),
        ("last_try", MONEY),
        ("high_24h_try", MONEY),
        ("low_24h_try", MONEY),
        ("quote_volume_try", MONEY),
        ("daily_change_pct", MONEY),
        ("n_closes", "INTEGER"),
        ("tick_size", MONEY),
        ("lot_size", MONEY),
        ("min_notional_try", MONEY),
        ("exchange_status", "VARCHAR"),
        ("price_scale", "INTEGER"),
        ("quantity_scale", "INTEGER"),
        ("has_rules", "BOOLEAN"),
    ),
    "market_cycles": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("source", "VARCHAR"),
        ("degraded_reason", "VARCHAR"),
        ("fetched_at", "TIMESTAMP"),
        ("n_symbols", "INTEGER"),
        ("n_tradable", "INTEGER"),
    ),
    "universe": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("symbol", "VARCHAR"),
        ("rank", "INTEGER"),
        ("selected", "BOOLEAN"),
        ("total_score", MONEY),
        ("liquidity_score", MONEY),
        ("spread_score", MONEY),
        ("volatility_score", MONEY),
        ("quote_volume_try", MONEY),
        ("spread_bps", MONEY),
        ("volatility", MONEY),
        ("reject_reason", "VARCHAR"),
    ),
    "universe_selection": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("selected_universe_json", "VARCHAR"),
    ),
    "portfolio_plan": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("base_mode", "VARCHAR"),
        ("final_mode", "VARCHAR"),
        ("cash_try", MONEY),
        ("equity_try", MONEY),
        ("cash_target_try", MONEY),
        ("investable_try", MONEY),
        ("n_actions", "INTEGER"),
        ("n_planned", "INTEGER"),
        ("n_skipped", "INTEGER"),
    ),
    "plan_actions": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("seq", "INTEGER"),
        ("symbol", "VARCHAR"),
        ("side", "VARCHAR"),
        ("desired_notional_try", MONEY),
        ("notional_try", MONEY),
        ("est_qty", MONEY),
        ("mark_price_try", MONEY),
        ("reason", "VARCHAR"),
        ("status", "VARCHAR"),
        ("skip_reason", "VARCHAR"),
    ),
    "order_intents": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("client_order_id", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("symbol", "VARCHAR"),
        ("side", "VARCHAR"),
        ("order_type", "VARCHAR"),
        ("price_try", MONEY),
        ("qty", MONEY),
        ("notional_try", MONEY),
        ("mark_price_try", MONEY),
        ("status", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("skip_reason", "VARCHAR"),
        ("rules_status", "VARCHAR"),
    ),
    "orders": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("client_order_id", "VARCHAR"),
        ("symbol", "VARCHAR"),
        ("side", "VARCHAR"),
        ("order_type", "VARCHAR"),
        ("price_try", MONEY),
        ("qty", MONEY),
        ("filled_qty", MONEY),
        ("status", "VARCHAR"),
        ("mode", "VARCHAR"),
        # the simulated OMS: the order as it stands after this cycle (one row per order the
        # cycle touched; its latest row is its current state)
        ("avg_fill_price_try", MONEY),
        ("fees_try", MONEY),
        ("slippage_try", MONEY),
        ("placed_cycle_id", "VARCHAR"),
        ("attempts", "INTEGER"),
        ("reason", "VARCHAR"),
    ),
    "order_events": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("event_id", "VARCHAR"),
        ("client_order_id", "VARCHAR"),
        ("event_type", "VARCHAR"),
        ("status_after", "VARCHAR"),
        ("seq", "INTEGER"),
        ("reason", "VARCHAR"),
    ),
    # Every side-effecting action's idempotency key with its payload hash and what became
    # of it: NEW, DUPLICATE_IGNORED or IDEMPOTENCY_CONFLICT.
    "idempotency_keys": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("key", "VARCHAR"),
        ("payload_hash", "VARCHAR"),
        ("outcome", "VARCHAR"),
    ),
    "fills": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("fill_id", "VARCHAR"),
        ("client_order_id", "VARCHAR"),
        ("symbol", "VARCHAR"),
        ("side", "VARCHAR"),
        ("qty", MONEY),
        ("mark_price_try", MONEY),
        ("fill_price_try", MONEY),
        ("notional_try", MONEY),
        ("fee_try", MONEY),
        ("slippage_try", MONEY),
    ),
    "ledger_metrics": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("gross_pnl_try", MONEY),
        ("realized_pnl_try", MONEY),
        ("unrealized_pnl_try", MONEY),
        ("net_pnl_try", MONEY),
        ("fees_try", MONEY),
        ("slippage_try", MONEY),
        ("turnover_try", MONEY),
        ("equity_try", MONEY),
        ("cash_try", MONEY),
        ("positions_value_try", MONEY),
        ("max_drawdown", MONEY),
        ("start_capital_try", MONEY),
        ("carried_from", "VARCHAR"),
        ("gap_cycles", "INTEGER"),
        ("opening_digest", "VARCHAR"),
        ("closing_digest", "VARCHAR"),
        ("state_json", "VARCHAR"),
    ),
    "positions": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("symbol", "VARCHAR"),
        ("qty", MONEY),
        ("cost_try", MONEY),
        ("avg_cost_try", MONEY),
        ("mark_price_try", MONEY),
        ("market_value_try", MONEY),
        ("unrealized_pnl_try", MONEY),
    ),
    "cycle_trace": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("base_mode", "VARCHAR"),
        ("final_mode", "VARCHAR"),
        ("selected_universe_json", "VARCHAR"),
        ("universe_scores_json", "VARCHAR"),
        ("intents_summary_json", "VARCHAR"),
        ("mode_json", "VARCHAR"),
        ("order_decisions_json", "VARCHAR"),
        ("portfolio_plan_json", "VARCHAR"),
        ("order_intents_json", "VARCHAR"),
        ("rules_stats_json", "VARCHAR"),
        ("active_params_json", "VARCHAR"),
        ("ledger_metrics_json", "VARCHAR"),
        ("market_notes_json", "VARCHAR"),
    ),
    "run_metrics": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("final_mode", "VARCHAR"),
        ("n_candidates", "INTEGER"),
        ("n_tradable", "INTEGER"),
        ("n_selected", "INTEGER"),
        ("n_intents_planned", "INTEGER"),
        ("n_intents_skipped", "INTEGER"),
        ("n_fills", "INTEGER"),
        ("equity_try", MONEY),
        # the oldest market data the cycle used: cycle time minus its data time, in seconds
        ("data_age_s", "INTEGER"),
        # How the cycle ran (not what it decided; see RUN_ONLY_COLUMNS): the Dagster run and
        # each stage's milliseconds, a batch's time shared evenly by its cycles (a scheduled
        # cycle is a batch of one); gates: the chunk's validation.
        ("run_id", "VARCHAR"),
        ("market_ms", "DOUBLE"),
        ("universe_ms", "DOUBLE"),
        ("trading_ms", "DOUBLE"),
        ("trace_ms", "DOUBLE"),
        ("write_ms", "DOUBLE"),
        ("gates_ms", "DOUBLE"),
    ),
    # Parameter adaptation (ADAPTATION_ENABLED; the seeds' params_active, param_changes,
    # params_checkpoints): only books that adapt have rows. Outside STAGE_TABLES (their
    # seals, gates and fingerprints are the stage tables'); the trace records the version
    # and the change of every cycle, so the fingerprint covers them.
    "params_active": (  # one row per cycle: the version it ran with, and the state carried on
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("active_version", "INTEGER"),
        ("values_json", "VARCHAR"),
        ("state_json", "VARCHAR"),
    ),
    "param_changes": (  # one row per change decided at the end of the cycle
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("change_id", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("version_before", "INTEGER"),
        ("version_after", "INTEGER"),
        ("before_json", "VARCHAR"),
        ("after_json", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("metrics_json", "VARCHAR"),
        ("inputs_hash", "VARCHAR"),
    ),
    "params_checkpoints": (  # one row per checkpoint taken (version 1 is the configured values)
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("version", "INTEGER"),
        ("values_json", "VARCHAR"),
        ("equity_try", MONEY),
    ),
    # The risk budget's decision at the end of each cycle: ``mode`` is the next cycle's base mode.
    "risk_decisions": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("mode", "VARCHAR"),
        ("reasons_json", "VARCHAR"),
        ("cooldown_until", "TIMESTAMP"),
        ("inputs_hash", "VARCHAR"),
        ("cleared_by", "VARCHAR"),
        ("drawdown", MONEY),
        ("daily_pnl_try", MONEY),
        ("state_json", "VARCHAR"),
    ),
    # Which gate stopped a cycle (written by the failing asset, in its own transaction).
    "gate_failures": (
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("asset", "VARCHAR"),
        ("check_name", "VARCHAR"),
        ("expectation", "VARCHAR"),
        ("detail", "VARCHAR"),
    ),
}

# table → {column: SQL type}, in schema order: the one shape every row takes (storage.rows
# builds rows as these columns; inserts, gates, export and fingerprints read them by name).
COLUMN_NAMES: dict[str, dict[str, str]] = {t: dict(cols) for t, cols in TABLES.items()}

# Columns that describe the run that wrote a cycle, not the cycle: wall-clock durations and
# the run id differ between two runs of the same inputs, so fingerprints and parity skip them.
RUN_ONLY_COLUMNS: dict[str, tuple[str, ...]] = {
    "run_metrics": ("run_id", "market_ms", "universe_ms", "trading_ms", "trace_ms", "write_ms", "gates_ms"),
}

# Tables without a cycle: operator clears of the risk budget (``btcbot risk clear``), and
# what the book is (one row, written when the book is first claimed by a run).
AUX_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "risk_clears": (
        ("clear_id", "VARCHAR"),
        ("cleared_at", "TIMESTAMP"),
        ("reason", "VARCHAR"),
        ("operator", "VARCHAR"),
    ),
    "book_info": (
        ("kind", "VARCHAR"),
        ("name", "VARCHAR"),
        ("source", "VARCHAR"),
        ("dataset_path", "VARCHAR"),
        ("dataset_fingerprint", "VARCHAR"),
        ("params_hash", "VARCHAR"),
        ("params_json", "VARCHAR"),
        ("code_version", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("window_start", "TIMESTAMP"),
        ("window_end", "TIMESTAMP"),
        ("schema_version", "INTEGER"),
    ),
    # Alerts raised by the cycles and the run-failure sensor (btcbot_pipeline.alerting): one
    # row per alert id, with its webhook delivery status (pending, delivered, failed, recorded).
    "alerts": (
        ("alert_id", "VARCHAR"),
        ("cycle_ts", "TIMESTAMP"),
        ("cycle_id", "VARCHAR"),
        ("rule", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("message", "VARCHAR"),
        ("details_json", "VARCHAR"),
        ("status", "VARCHAR"),
        ("attempts", "INTEGER"),
        ("last_error", "VARCHAR"),
    ),
}
# Bumped when the tables or their columns change. A book of an older version is migrated when a run
# opens it (:data:`MIGRATIONS`, one transaction); one of a newer version is refused.
# 3: ledger_metrics records the chain (opening_digest, closing_digest); run_metrics how
# the cycle ran; the simulated OMS's orders, order_events and idempotency_keys.
# 4: typed columns only: the JSON copies of typed columns go (market_cycles.payload,
# portfolio_plan.portfolio_plan_json, order_intents.intent_json, fills.payload,
# ledger_metrics.metrics_json); the cycle's trace keeps the exact payloads.
# 5: parameter adaptation's tables (params_active, param_changes, params_checkpoints).
# Books written between their landing (472b469) and this bump say version 4 and already
# have them; a version-4 book of the code before (20562d3) lacks them. Either migrates.
SCHEMA_VERSION = 5
# version → the statements that bring a book of that version to the next one
MIGRATIONS: dict[int, tuple[str, ...]] = {
    3: (
        "ALTER TABLE market_cycles DROP COLUMN payload",
        "ALTER TABLE portfolio_plan DROP COLUMN portfolio_plan_json",
        "ALTER TABLE order_intents DROP COLUMN intent_json",
        "ALTER TABLE fills DROP COLUMN payload",
        "ALTER TABLE ledger_metrics DROP COLUMN metrics_json",
    ),
    # written out, not derived from TABLES: a later version's columns are a later migration's
    4: (
        "CREATE TABLE IF NOT EXISTS params_active (cycle_ts TIMESTAMP, cycle_id VARCHAR, active_version INTEGER, "
        "values_json VARCHAR, state_json VARCHAR)",
        "CREATE TABLE IF NOT EXISTS param_changes (cycle_ts TIMESTAMP, cycle_id VARCHAR, change_id VARCHAR, "
        "kind VARCHAR, version_before INTEGER, version_after INTEGER, before_json VARCHAR, after_json VARCHAR, "
        "reason VARCHAR, metrics_json VARCHAR, inputs_hash VARCHAR)",
        "CREATE TABLE IF NOT EXISTS params_checkpoints (cycle_ts TIMESTAMP, cycle_id VARCHAR, version INTEGER, "
        "values_json VARCHAR, equity_try DECIMAL(38, 18))",
    ),
}

# Tables written by each stage, upstream first: a chunk rewrites (or, when a gate stops it,
# empties) its window in all of them, so nothing derived from rejected data stays trusted.
STAGE_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("market_snapshot", ("market_snapshot", "market_cycles")),
    ("universe", ("universe", "universe_selection")),
    (
        "trading_cycle",
        (
            "portfolio_plan",
            "plan_actions",
            "order_intents",
            "orders",
            "order_events",
            "idempotency_keys",
            "fills",
            "ledger_metrics",
            "positions",
            "risk_decisions",
        ),
    ),
    ("cycle_trace", ("cycle_trace", "run_metrics")),
)


# The adaptation's tables: cleared with a window's rows, outside the stage tables.
ADAPTATION_TABLES: tuple[str, ...] = ("params_active", "param_changes", "params_checkpoints")


def naive_utc(ts: datetime) -> datetime:
    """DuckDB's ``TIMESTAMP`` is naive; the book stores UTC wall time."""
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts
