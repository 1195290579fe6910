"""JSON-ready views of the domain objects, and the way back for those a later stage reads.

Decimals are written in fixed-point text, which round-trips to the same value, so
a stage that reads its input back from the book computes byte-identical results to one
that received it in memory. :func:`dumps` is the one JSON encoder: sorted keys, no
whitespace, so equal payloads are equal bytes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import orjson

from btcbot_pipeline.domain.cycle import CycleResult
from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.intents import OrderIntent
from btcbot_pipeline.domain.ledger import Holding, LedgerMetrics, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, SymbolRules, SymbolSnapshot
from btcbot_pipeline.domain.oms import OmsState, OrderStatus, SimOrder, TokenBucket
from btcbot_pipeline.domain.plan import PortfolioPlan
from btcbot_pipeline.domain.universe import UniverseSelection
from btcbot_pipeline.domain.vocabulary import Side


def dumps(payload: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8 as is.

    orjson writes exactly these bytes for the payloads here (strings, ints, bools, nulls,
    lists, str-keyed dicts; money is text) several times faster than the standard encoder,
    which still handles what orjson refuses (ints past 64 bits, non-string keys)."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _d(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _D(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _ts(value: datetime | None) -> str | None:
    """UTC text, with microseconds only when there are any (an OMS retry time)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in value else "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# -- market snapshot -----------------------------------------------------------------


def rules_payload(rules: SymbolRules | None) -> dict[str, Any] | None:
    if rules is None:
        return None
    return {
        "symbol": rules.symbol,
        "tick_size": _d(rules.tick_size),
        "lot_size": _d(rules.lot_size),
        "min_notional_try": _d(rules.min_notional_try),
        "price_scale": rules.price_scale,
        "quantity_scale": rules.quantity_scale,
        "status": rules.status,
    }


def symbol_payload(s: SymbolSnapshot) -> dict[str, Any]:
    return {
        "symbol": s.symbol,
        "data_ts": _ts(s.data_ts),
        "staleness_s": s.staleness_s,
        "best_bid": _d(s.best_bid),
        "best_ask": _d(s.best_ask),
        "last": _d(s.last),
        "high_24h": _d(s.high_24h),
        "low_24h": _d(s.low_24h),
        "quote_volume_try": _d(s.quote_volume_try),
        "daily_change_pct": _d(s.daily_change_pct),
        "closes": [_d(c) for c in s.closes],
        "rules": rules_payload(s.rules),
        "skip_reason": s.skip_reason,
    }


def symbol_from_payload(p: dict[str, Any]) -> SymbolSnapshot:
    rules = p["rules"]
    return SymbolSnapshot(
        symbol=p["symbol"],
        data_ts=parse_ts(p["data_ts"]),
        staleness_s=p["staleness_s"],
        best_bid=_D(p["best_bid"]),
        best_ask=_D(p["best_ask"]),
        last=_D(p["last"]),
        high_24h=_D(p["high_24h"]),
        low_24h=_D(p["low_24h"]),
        quote_volume_try=_D(p["quote_volume_try"]),
        daily_change_pct=_D(p["daily_change_pct"]),
        closes=tuple(Decimal(c) for c in p["closes"]),
        rules=None
        if rules is None
        else SymbolRules(
            symbol=rules["symbol"],
            tick_size=_D(rules["tick_size"]),
            lot_size=_D(rules["lot_size"]),
            min_notional_try=_D(rules["min_notional_try"]),
            price_scale=rules["price_scale"],
            quantity_scale=rules["quantity_scale"],
            status=rules["status"],
        ),
        skip_reason=p["skip_reason"],
    )


def market_cycle_payload(snapshot: MarketSnapshot) -> dict[str, Any]:
    """The snapshot-level fields (one per cycle, even when no symbol could be read)."""
    return {
        "cycle_ts": _ts(snapshot.cycle_ts),
        "source": snapshot.source,
        "degraded_reason": snapshot.degraded_reason,
        "fetched_at": _ts(snapshot.fetched_at),
    }


def snapshot_from_payloads(
    cycle_ts: datetime, symbols: list[dict[str, Any]], cycle: dict[str, Any] | None = None
) -> MarketSnapshot:
    parsed = sorted((symbol_from_payload(p) for p in symbols), key=lambda s: s.symbol)
    cycle = cycle or {}
    return MarketSnapshot(
        cycle_ts=cycle_ts,
        symbols=tuple(parsed),
        source=cycle.get("source", "replay"),
        degraded_reason=cycle.get("degraded_reason"),
        fetched_at=parse_ts(cycle.get("fetched_at")),
    )


# -- universe ------------------------------------------------------------------------


def universe_payload(selection: UniverseSelection) -> dict[str, Any]:
    return {
        "cycle_ts": _ts(selection.cycle_ts),
        "selected": list(selection.selected),
        "ranked": [
            {
                "symbol": r.symbol,
                "quote_volume_try": _d(r.quote_volume_try),
                "spread_bps": _d(r.spread_bps),
                "volatility": _d(r.volatility),
                "liquidity_score": _d(r.liquidity_score),
                "spread_score": _d(r.spread_score),
                "volatility_score": _d(r.volatility_score),
                "total_score": _d(r.total_score),
            }
            for r in selection.ranked
        ],
        "rejected": [{"symbol": s, "reason": reason} for s, reason in selection.rejected],
    }


# -- plan, intents, fills, ledger ----------------------------------------------------


def plan_payload(result: CycleResult) -> dict[str, Any]:
    plan: PortfolioPlan = result.plan
    return {
        "cycle_id": result.cycle_id,
        "cycle_ts": _ts(plan.cycle_ts),
        "mode": {
            "base_mode": result.mode.base.value,
            "override_mode": None if result.mode.override is None else result.mode.override.value,
            "final_mode": result.mode.final.value,
            "reasons": list(result.mode.reasons),
        },
        "cash_try": _d(plan.cash_try),
        "equity_try": _d(plan.equity_try),
        "cash_target_try": _d(plan.cash_target_try),
        "investable_try": _d(plan.investable_try),
        "allocations": [
            {
                "symbol": a.symbol,
                "weight": _d(a.weight),
                "target_notional_try": _d(a.target_notional_try),
                "current_notional_try": _d(a.current_notional_try),
            }
            for a in plan.allocations
        ],
        "actions": [
            {
                "symbol": a.symbol,
                "side": a.side.value,
                "desired_notional_try": _d(a.desired_notional_try),
                "notional_try": _d(a.notional_try),
                "est_qty": _d(a.est_qty),
                "mark_price_try": _d(a.mark_price_try),
                "reason": a.reason,
                "status": a.status.value,
                "skip_reason": a.skip_reason,
                "full_exit": a.full_exit,
            }
            for a in plan.actions
        ],
        "notes": list(plan.notes),
        "rules_stats": result.rules_stats,
    }


def intent_payload(i: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": i.client_order_id,
        "cycle_id": i.cycle_id,
        "cycle_ts": _ts(i.cycle_ts),
        "symbol": i.symbol,
        "side": i.side.value,
        "order_type": i.order_type,
        "price_try": _d(i.price_try),
        "qty": _d(i.qty),
        "notional_try": _d(i.notional_try),
        "mark_price_try": _d(i.mark_price_try),
        "status": i.status.value,
        "reason": i.reason,
        "skip_reason": i.skip_reason,
        "rules_status": i.rules_status,
    }


def fill_payload(f: SimulatedFill) -> dict[str, Any]:
    return {
        "fill_id": f.fill_id,
        "cycle_id": f.cycle_id,
        "cycle_ts": _ts(f.cycle_ts),
        "client_order_id": f.client_order_id,
        "symbol": f.symbol,
        "side": f.side.value,
        "qty": _d(f.qty),
        "mark_price_try": _d(f.mark_price_try),
        "fill_price_try": _d(f.fill_price_try),
        "notional_try": _d(f.notional_try),
        "fee_try": _d(f.fee_try),
        "slippage_try": _d(f.slippage_try),
    }


def metrics_payload(m: LedgerMetrics) -> dict[str, Any]:
    return {
        "cycle_id": m.cycle_id,
        "cycle_ts": _ts(m.cycle_ts),
        "realized_pnl_try": _d(m.realized_pnl_try),
        "unrealized_pnl_try": _d(m.unrealized_pnl_try),
        "gross_pnl_try": _d(m.gross_pnl_try),
        "fees_try": _d(m.fees_try),
        "slippage_try": _d(m.slippage_try),
        "net_pnl_try": _d(m.net_pnl_try),
        "equity_try": _d(m.equity_try),
        "cash_try": _d(m.cash_try),
        "positions_value_try": _d(m.positions_value_try),
        "turnover_try": _d(m.turnover_try),
        "max_drawdown": _d(m.max_drawdown),
        "start_capital_try": _d(m.start_capital_try),
    }


def order_payload(o: SimOrder) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side.value, "price_try": _d(o.price_try),
        "qty": _d(o.qty), "placed_ts": _ts(o.placed_ts), "placed_cycle_id": o.placed_cycle_id,
        "status": o.status.value, "filled_qty": _d(o.filled_qty), "filled_notional_try": _d(o.filled_notional_try),
        "fees_try": _d(o.fees_try), "slippage_try": _d(o.slippage_try), "attempts": o.attempts,
        "next_attempt_ts": _ts(o.next_attempt_ts), "seq": o.seq, "intent_hash": o.intent_hash, "reason": o.reason,
    }


def order_from_payload(p: dict[str, Any]) -> SimOrder:
    return SimOrder(
        client_order_id=p["client_order_id"], symbol=p["symbol"], side=Side(p["side"]), price_try=Decimal(p["price_try"]),
        qty=Decimal(p["qty"]), placed_ts=parse_ts(p["placed_ts"]), placed_cycle_id=p["placed_cycle_id"],  # type: ignore[arg-type]
        status=OrderStatus(p["status"]), filled_qty=Decimal(p["filled_qty"]),
        filled_notional_try=Decimal(p["filled_notional_try"]), fees_try=Decimal(p["fees_try"]),
        slippage_try=Decimal(p["slippage_try"]), attempts=p["attempts"], next_attempt_ts=parse_ts(p["next_attempt_ts"]),
        seq=p["seq"], intent_hash=p["intent_hash"], reason=p["reason"],
    )


def oms_payload(oms: OmsState) -> dict[str, Any]:
    bucket = None if oms.bucket is None else {"tokens": _d(oms.bucket.tokens), "updated_ts": _ts(oms.bucket.updated_ts)}
    return {
        "open_orders": [order_payload(o) for o in oms.open_orders],
        "bucket": bucket,
        "keys": dict(sorted(oms.keys.items())),
    }


def oms_from_payload(p: dict[str, Any] | None) -> OmsState:
    if p is None:
        return OmsState()
    b = p["bucket"]
    return OmsState(
        open_orders=tuple(order_from_payload(o) for o in p["open_orders"]),
        bucket=None if b is None else TokenBucket(Decimal(b["tokens"]), parse_ts(b["updated_ts"])),
        keys=dict(sorted(p["keys"].items())),
    )


def state_payload(state: LedgerState) -> dict[str, Any]:
    oms = state.oms
    return {
        "start_capital_try": _d(state.start_capital_try),
        "cash_try": _d(state.cash_try),
        "holdings": {s: {"qty": _d(h.qty), "cost_try": _d(h.cost_try)} for s, h in state.holdings.items()},
        "marks": {s: _d(m) for s, m in state.marks.items()},
        "realized_pnl_try": _d(state.realized_pnl_try),
        "fees_try": _d(state.fees_try),
        "slippage_try": _d(state.slippage_try),
        "turnover_try": _d(state.turnover_try),
        "peak_equity_try": _d(state.peak_equity_try),
        "max_drawdown": _d(state.max_drawdown),
        "last_cycle_ts": _ts(state.last_cycle_ts),
        # absent while the OMS has never run (an opening book)
        **({"oms": oms_payload(oms)} if oms.open_orders or oms.bucket is not None or oms.keys else {}),
    }


def state_from_payload(p: dict[str, Any]) -> LedgerState:
    return LedgerState(
        start_capital_try=Decimal(p["start_capital_try"]),
        cash_try=Decimal(p["cash_try"]),
        holdings={s: Holding(Decimal(h["qty"]), Decimal(h["cost_try"])) for s, h in sorted(p["holdings"].items())},
        marks={s: Decimal(m) for s, m in sorted(p["marks"].items())},
        realized_pnl_try=Decimal(p["realized_pnl_try"]),
        fees_try=Decimal(p["fees_try"]),
        slippage_try=Decimal(p["slippage_try"]),
        turnover_try=Decimal(p["turnover_try"]),
        peak_equity_try=_D(p["peak_equity_try"]),
        max_drawdown=Decimal(p["max_drawdown"]),
        last_cycle_ts=parse_ts(p["last_cycle_ts"]),
        oms=oms_from_payload(p.get("oms")),
    )
