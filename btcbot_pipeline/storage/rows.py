"""Domain results → row tuples in the column order of :data:`book.TABLES`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from btcbot_pipeline.domain.cycle import CycleResult, cycle_id_for
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.payloads import (
    dumps,
    fill_payload,
    intent_payload,
    market_cycle_payload,
    metrics_payload,
    parse_ts,
    plan_payload,
    state_payload,
)
from btcbot_pipeline.domain.plan import ActionStatus
from btcbot_pipeline.domain.risk import state_payload as risk_state_payload
from btcbot_pipeline.domain.trace import CycleTrace
from btcbot_pipeline.domain.universe import UniverseSelection

Row = tuple[Any, ...]


def chain_digest(state_json: str, risk_json: str | None) -> str:
    """The digest of a cycle's closing state (its ledger state and risk state, as the book
    stores them): the next cycle records it as the state it opened from, and the ledger
    chain gate compares the two across the book."""
    h = hashlib.sha256(state_json.encode())
    h.update(b"\n")
    h.update(b"null" if risk_json is None else risk_json.encode())
    return h.hexdigest()


def market_rows(snapshots: Sequence[MarketSnapshot]) -> dict[str, list[Row]]:
    rows: list[Row] = []
    cycles: list[Row] = []
    for snap in snapshots:
        cycle_id = cycle_id_for(snap.cycle_ts)
        cycles.append((
            snap.cycle_ts, cycle_id, snap.source, snap.degraded_reason, snap.fetched_at, len(snap.symbols),
            sum(1 for s in snap.symbols if s.tradable), dumps(market_cycle_payload(snap)),
        ))
        for s in snap.symbols:
            r = s.rules
            rows.append((
                snap.cycle_ts, cycle_id, s.symbol, snap.source, s.tradable, s.skip_reason, s.data_ts, s.staleness_s,
                s.best_bid, s.best_ask, s.mark, s.spread_bps, s.last, s.high_24h, s.low_24h, s.quote_volume_try,
                s.daily_change_pct, len(s.closes),
                None if r is None else r.tick_size, None if r is None else r.lot_size,
                None if r is None else r.min_notional_try, None if r is None else r.status,
                None if r is None else r.price_scale, None if r is None else r.quantity_scale, r is not None,
            ))
    return {"market_cycles": cycles, "market_snapshot": rows}


def universe_rows(selections: Sequence[UniverseSelection]) -> dict[str, list[Row]]:
    scored: list[Row] = []
    per_cycle: list[Row] = []
    for sel in selections:
        cycle_id = cycle_id_for(sel.cycle_ts)
        chosen = set(sel.selected)
        for rank, r in enumerate(sel.ranked, start=1):
            scored.append((
                sel.cycle_ts, cycle_id, r.symbol, rank, r.symbol in chosen, r.total_score, r.liquidity_score,
                r.spread_score, r.volatility_score, r.quote_volume_try, r.spread_bps, r.volatility, None,
            ))
        for symbol, reason in sel.rejected:
            scored.append((sel.cycle_ts, cycle_id, symbol, None, False, None, None, None, None, None, None, None, reason))
        per_cycle.append((sel.cycle_ts, cycle_id, dumps(list(sel.selected))))
    return {"universe": scored, "universe_selection": per_cycle}


@dataclass(frozen=True, slots=True)
class CyclePayloads:
    """A cycle's JSON-ready payloads, made once for its rows and for its trace."""

    plan: dict[str, Any]
    intents: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    metrics: dict[str, Any]

    @classmethod
    def of(cls, res: CycleResult) -> CyclePayloads:
        return cls(plan_payload(res), [intent_payload(i) for i in res.intents], [fill_payload(f) for f in res.fills],
                   metrics_payload(res.metrics))


def cycle_rows(
    results: Sequence[CycleResult],
    carried_from: str | None,
    opening: dict[str, str] | None = None,
    payloads: Sequence[CyclePayloads] | None = None,
    gap_cycles: int = 0,
    opening_digest: str | None = None,
) -> dict[str, list[Row]]:
    """Rows of the four stateful stages for every cycle of a window.

    ``opening`` (where a new book's opening balance came from, and why not from the
    exchange) is recorded in the first cycle's ledger metrics, hence in its trace.
    ``payloads``: the results' payloads if the caller made them already (for the trace).
    ``gap_cycles``: cycle times skipped between the carried ledger and the first result
    (recorded on the first cycle; the results themselves are consecutive).
    ``opening_digest``: :func:`chain_digest` of the state the first result started from
    (``None`` when the book opens with it); each later result opens from the one before.
    """
    if payloads is None:
        payloads = [CyclePayloads.of(res) for res in results]
    tables: dict[str, list[Row]] = {
        t: [] for t in (
            "portfolio_plan", "plan_actions", "order_intents", "orders", "order_events", "idempotency_keys", "fills",
            "ledger_metrics", "positions", "risk_decisions",
        )
    }
    previous, opened_from = carried_from, opening_digest
    for res, pay in zip(results, payloads):
        ts, cid, plan = res.cycle_ts, res.cycle_id, res.plan
        planned = sum(1 for a in plan.actions if a.status is ActionStatus.PLANNED)
        tables["portfolio_plan"].append((
            ts, cid, res.mode.base.value, res.mode.final.value, plan.cash_try, plan.equity_try, plan.cash_target_try,
            plan.investable_try, len(plan.actions), planned, len(plan.actions) - planned, dumps(pay.plan),
        ))
        for seq, a in enumerate(plan.actions):
            tables["plan_actions"].append((
                ts, cid, seq, a.symbol, a.side.value, a.desired_notional_try, a.notional_try, a.est_qty,
                a.mark_price_try, a.reason, a.status.value, a.skip_reason,
            ))
        for i, i_payload in zip(res.intents, pay.intents):
            tables["order_intents"].append((
                ts, cid, i.client_order_id, ts, i.symbol, i.side.value, i.order_type, i.price_try, i.qty,
                i.notional_try, i.mark_price_try, i.status.value, i.reason, i.skip_reason, i.rules_status,
                dumps(i_payload),
            ))
        for o in res.orders:
            tables["orders"].append((
                ts, cid, o.client_order_id, o.client_order_id, o.symbol, o.side.value, "LIMIT", o.price_try, o.qty,
                o.filled_qty, o.status.value, "dry_run", o.avg_fill_price_try, o.fees_try, o.slippage_try,
                o.placed_cycle_id, o.attempts, o.reason,
            ))
        for e in res.events:
            tables["order_events"].append((ts, cid, e.event_id, e.client_order_id, e.event_type, e.status_after, e.seq, e.reason))
        if res.oms is not None:
            tables["idempotency_keys"] += [(ts, cid, key, digest, outcome) for key, digest, outcome in res.oms.keys]
        for f, f_payload in zip(res.fills, pay.fills):
            tables["fills"].append((
                ts, cid, f.fill_id, f.client_order_id, f.symbol, f.side.value, f.qty, f.mark_price_try,
                f.fill_price_try, f.notional_try, f.fee_try, f.slippage_try, dumps(f_payload),
            ))
        m = res.metrics
        r = res.risk
        state_json = dumps(state_payload(res.state))
        risk_json = None if r is None else dumps(risk_state_payload(r.state))
        closing = chain_digest(state_json, risk_json)
        tables["ledger_metrics"].append((
            ts, cid, ts, m.gross_pnl_try, m.realized_pnl_try, m.unrealized_pnl_try, m.net_pnl_try, m.fees_try,
            m.slippage_try, m.turnover_try, m.equity_try, m.cash_try, m.positions_value_try, m.max_drawdown,
            m.start_capital_try, previous, gap_cycles if res is results[0] else 0, opened_from, closing,
            dumps({**pay.metrics, **({"opening": opening} if opening and previous is None else {})}),
            state_json,
        ))
        previous, opened_from = cid, closing
        if r is not None:
            tables["risk_decisions"].append((
                ts, cid, r.mode.value, dumps(list(r.reasons)), r.cooldown_until, r.inputs_hash, r.cleared_by,
                r.drawdown.quantize(Decimal("1E-12")), r.daily_pnl_try, risk_json,
            ))
        for symbol, h in res.state.holdings.items():
            mark = res.state.marks[symbol]
            value = h.qty * mark
            tables["positions"].append((ts, cid, symbol, h.qty, h.cost_try, h.avg_cost_try, mark, value, value - h.cost_try))
    return tables


def trace_rows(traces: Sequence[CycleTrace], run_metrics: Sequence[Row]) -> dict[str, list[Row]]:

    rows = []
    for t in traces:
        ts = parse_ts(t.cycle_ts)
        rows.append((
            ts, t.cycle_id, ts, t.base_mode, t.final_mode, t.selected_universe_json, t.universe_scores_json,
            t.intents_summary_json, t.mode_json, t.order_decisions_json, t.portfolio_plan_json, t.order_intents_json,
            t.rules_stats_json, t.active_params_json, t.ledger_metrics_json, t.market_notes_json,
        ))
    return {"cycle_trace": rows, "run_metrics": list(run_metrics)}
