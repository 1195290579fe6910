"""Domain results → the book's rows, as columns by name (:data:`schema.TABLES` names each
table's columns and types); the book inserts them and the gates read them as they are."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, Sequence

from btcbot_pipeline.domain.cycle import CycleResult, cycle_id_for
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.payloads import (
    dumps,
    fill_payload,
    intent_payload,
    ledger_state_payload,
    metrics_payload,
    parse_ts,
    plan_payload,
    risk_state_payload,
    to_payload,
)
from btcbot_pipeline.domain.plan import ActionStatus
from btcbot_pipeline.domain.trace import CycleTrace
from btcbot_pipeline.domain.universe import UniverseSelection
from btcbot_pipeline.storage.schema import COLUMN_NAMES

Row = tuple[Any, ...]
_RULES = attrgetter("rules")
Columns = dict[str, list[Any]]  # one table's rows as columns, named and ordered as its schema


def columns(table: str, n: int, **values: list[Any] | Any) -> Columns:
    """``table``'s rows as columns by name, in its schema's order: every column named once;
    a value that is not a list is that value on all ``n`` rows.

    Raises:
        KeyError: a column is missing or unknown (the message names it)."""
    names = COLUMN_NAMES[table]
    if values.keys() != names.keys():
        missing = [c for c in names if c not in values]
        extra = [c for c in values if c not in names]
        raise KeyError(f"{table}: missing columns {missing}, unknown columns {extra}")
    out = {c: (v if isinstance(v, list) else [v] * n) for c in names for v in (values[c],)}
    wrong = [c for c, v in out.items() if len(v) != n]
    if wrong:
        raise ValueError(f"{table}: columns {wrong} do not have {n} values")
    return out


def n_rows(cols: Columns) -> int:
    return len(next(iter(cols.values()))) if cols else 0


def as_rows(cols: Columns) -> list[Row]:
    """Columns as row tuples in schema order (for people and tests; the book and the gates
    take the columns)."""
    return list(zip(*cols.values()))


def from_rows(table: str, rows: Sequence[Sequence[Any]]) -> Columns:
    """Row tuples in schema order as columns."""
    names = list(COLUMN_NAMES[table])
    if not rows:
        return {c: [] for c in names}
    return {c: list(v) for c, v in zip(names, zip(*rows))}


def chain_digest(state_json: str, risk_json: str | None) -> str:
    """The digest of a cycle's closing state (its ledger state and risk state, as the book
    stores them): the next cycle records it as the state it opened from, and the ledger
    chain gate compares the two across the book."""
    h = hashlib.sha256(state_json.encode())
    h.update(b"\n")
    h.update(b"null" if risk_json is None else risk_json.encode())
    return h.hexdigest()


def market_rows(snapshots: Sequence[MarketSnapshot]) -> dict[str, Columns]:
    ids = [cycle_id_for(snap.cycle_ts) for snap in snapshots]
    cycles = columns(
        "market_cycles",
        len(snapshots),
        cycle_ts=[s.cycle_ts for s in snapshots],
        cycle_id=ids,
        source=[s.source for s in snapshots],
        degraded_reason=[s.degraded_reason for s in snapshots],
        fetched_at=[s.fetched_at for s in snapshots],
        n_symbols=[len(s.symbols) for s in snapshots],
        n_tradable=[sum(1 for x in s.symbols if x.tradable) for s in snapshots],
    )
    per_cycle = [len(snap.symbols) for snap in snapshots]
    syms = [s for snap in snapshots for s in snap.symbols]
    rules = list(map(_RULES, syms))
    known = [r for r in rules if r is not None]

    def of_symbols(attr: str) -> list[Any]:
        return list(map(attrgetter(attr), syms))

    def of_rules(attr: str) -> list[Any]:
        if len(known) == len(rules):  # every symbol has its rules (the usual case)
            return list(map(attrgetter(attr), rules))
        return [None if r is None else getattr(r, attr) for r in rules]

    def repeated(values: list[Any]) -> list[Any]:  # each cycle's value on each of its symbols' rows
        return [v for v, n in zip(values, per_cycle) for _ in range(n)]

    symbols = columns(
        "market_snapshot",
        len(syms),
        cycle_ts=repeated(cycles["cycle_ts"]),
        cycle_id=repeated(ids),
        symbol=of_symbols("symbol"),
        source=repeated(cycles["source"]),
        tradable=of_symbols("tradable"),
        skip_reason=of_symbols("skip_reason"),
        data_ts=of_symbols("data_ts"),
        staleness_s=of_symbols("staleness_s"),
        best_bid=of_symbols("best_bid"),
        best_ask=of_symbols("best_ask"),
        mark_price_try=of_symbols("mark"),
        spread_bps=of_symbols("spread_bps"),
        last_try=of_symbols("last"),
        high_24h_try=of_symbols("high_24h"),
        low_24h_try=of_symbols("low_24h"),
        quote_volume_try=of_symbols("quote_volume_try"),
        daily_change_pct=of_symbols("daily_change_pct"),
        n_closes=[len(s.closes) for s in syms],
        tick_size=of_rules("tick_size"),
        lot_size=of_rules("lot_size"),
        min_notional_try=of_rules("min_notional_try"),
        exchange_status=of_rules("status"),
        price_scale=of_rules("price_scale"),
        quantity_scale=of_rules("quantity_scale"),
        has_rules=[r is not None for r in rules],
    )
    return {"market_cycles": cycles, "market_snapshot": symbols}


def universe_rows(selections: Sequence[UniverseSelection]) -> dict[str, Columns]:
    ids = [cycle_id_for(sel.cycle_ts) for sel in selections]
    # per cycle: its ranked symbols (rank, selected, scores), then its rejected ones (reason)
    rows: list[tuple[Any, ...]] = []
    for sel, cid in zip(selections, ids):
        chosen = set(sel.selected)
        rows += [
            (sel.cycle_ts, cid, r.symbol, rank, r.symbol in chosen, r, None) for rank, r in enumerate(sel.ranked, 1)
        ]
        rows += [(sel.cycle_ts, cid, symbol, None, False, None, reason) for symbol, reason in sel.rejected]

    def score(attr: str) -> list[Any]:
        return [None if x[5] is None else getattr(x[5], attr) for x in rows]

    scored = columns(
        "universe",
        len(rows),
        cycle_ts=[x[0] for x in rows],
        cycle_id=[x[1] for x in rows],
        symbol=[x[2] for x in rows],
        rank=[x[3] for x in rows],
        selected=[x[4] for x in rows],
        total_score=score("total_score"),
        liquidity_score=score("liquidity_score"),
        spread_score=score("spread_score"),
        volatility_score=score("volatility_score"),
        quote_volume_try=score("quote_volume_try"),
        spread_bps=score("spread_bps"),
        volatility=score("volatility"),
        reject_reason=[x[6] for x in rows],
    )
    per_cycle = columns(
        "universe_selection",
        len(selections),
        cycle_ts=[sel.cycle_ts for sel in selections],
        cycle_id=ids,
        selected_universe_json=[dumps(list(sel.selected)) for sel in selections],
    )
    return {"universe": scored, "universe_selection": per_cycle}


@dataclass(frozen=True, slots=True)
class CyclePayloads:
    """A cycle's JSON-ready payloads for its trace, made once."""

    plan: dict[str, Any]
    intents: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    metrics: dict[str, Any]

    @classmethod
    def of(cls, res: CycleResult) -> CyclePayloads:
        return cls(
            plan_payload(res),
            [intent_payload(i) for i in res.intents],
            [fill_payload(f) for f in res.fills],
            metrics_payload(res.metrics),
        )


def _attrs(items: Sequence[Any], *names: str) -> dict[str, list[Any]]:
    """Columns read straight off ``items``, one attribute each, by the column's name."""
    return {name: list(map(attrgetter(name), items)) for name in names}


def _values(items: Sequence[Any], name: str) -> list[Any]:
    """The values of the enum attribute ``name`` (dotted: ``mode.final``) of ``items``.

    Read from ``_value_``, what ``.value`` returns (``.value`` is a Python-level property:
    six times the cost, for about twenty-five enums a cycle)."""
    return list(map(attrgetter(f"{name}._value_"), items))


def _per_item(table: str, pairs: Sequence[tuple[Any, ...]], **values: list[Any] | Any) -> Columns:
    """``table``'s rows, one per ``(result, item, ...)`` pair: the cycle's keys from the
    result, the other columns by name."""
    return columns(
        table,
        len(pairs),
        cycle_ts=[p[0].cycle_ts for p in pairs],
        cycle_id=[p[0].cycle_id for p in pairs],
        **values,
    )


def cycle_rows(
    results: Sequence[CycleResult],
    carried_from: str | None,
    gap_cycles: int = 0,
    opening_digest: str | None = None,
) -> dict[str, Columns]:
    """Columns of the four stateful stages for every cycle of a window.

    ``gap_cycles``: cycle times skipped between the carried ledger and the first result
    (recorded on the first cycle; the results themselves are consecutive).
    ``opening_digest``: :func:`chain_digest` of the state the first result started from
    (``None`` when the book opens with it); each later result opens from the one before.
    Where a new book's opening balance came from is the trace's to record.
    """
    n = len(results)
    ts = [r.cycle_ts for r in results]
    cid = [r.cycle_id for r in results]
    plans = [r.plan for r in results]
    n_planned = [sum(1 for a in p.actions if a.status is ActionStatus.PLANNED) for p in plans]
    out: dict[str, Columns] = {}
    out["portfolio_plan"] = columns(
        "portfolio_plan",
        n,
        cycle_ts=ts,
        cycle_id=cid,
        base_mode=_values(results, "mode.base"),
        final_mode=_values(results, "mode.final"),
        **_attrs(plans, "cash_try", "equity_try", "cash_target_try", "investable_try"),
        n_actions=[len(p.actions) for p in plans],
        n_planned=n_planned,
        n_skipped=[len(p.actions) - k for p, k in zip(plans, n_planned)],
    )
    acts = [(r, seq, a) for r in results for seq, a in enumerate(r.plan.actions)]
    actions = [a for *_, a in acts]
    out["plan_actions"] = _per_item(
        "plan_actions",
        acts,
        seq=[seq for _, seq, _ in acts],
        side=_values(actions, "side"),
        status=_values(actions, "status"),
        **_attrs(actions, "symbol", "desired_notional_try", "notional_try", "est_qty", "mark_price_try", "reason"),
        **_attrs(actions, "skip_reason"),
    )
    ints = [(r, i) for r in results for i in r.intents]
    intents = [i for _, i in ints]
    out["order_intents"] = _per_item(
        "order_intents",
        ints,
        ts=[r.cycle_ts for r, _ in ints],
        side=_values(intents, "side"),
        status=_values(intents, "status"),
        **_attrs(intents, "client_order_id", "symbol", "order_type", "price_try", "qty", "notional_try"),
        **_attrs(intents, "mark_price_try", "reason", "skip_reason", "rules_status"),
    )
    placed = [(r, o) for r in results for o in r.orders]
    orders = [o for _, o in placed]
    out["orders"] = _per_item(
        "orders",
        placed,
        order_id=[o.client_order_id for o in orders],
        side=_values(orders, "side"),
        status=_values(orders, "status"),
        order_type="LIMIT",
        mode="dry_run",
        **_attrs(orders, "client_order_id", "symbol", "price_try", "qty", "filled_qty", "avg_fill_price_try"),
        **_attrs(orders, "fees_try", "slippage_try", "placed_cycle_id", "attempts", "reason"),
    )
    happened = [(r, e) for r in results for e in r.events]
    events = [e for _, e in happened]
    out["order_events"] = _per_item(
        "order_events",
        happened,
        **_attrs(events, "event_id", "client_order_id", "event_type", "status_after", "seq", "reason"),
    )
    keys = [(r, *k) for r in results if r.oms is not None for k in r.oms.keys]
    out["idempotency_keys"] = _per_item(
        "idempotency_keys",
        keys,
        key=[k[1] for k in keys],
        payload_hash=[k[2] for k in keys],
        outcome=[k[3] for k in keys],
    )
    filled = [(r, f) for r in results for f in r.fills]
    fills = [f for _, f in filled]
    out["fills"] = _per_item(
        "fills",
        filled,
        side=_values(fills, "side"),
        **_attrs(fills, "fill_id", "client_order_id", "symbol", "qty", "mark_price_try", "fill_price_try"),
        **_attrs(fills, "notional_try", "fee_try", "slippage_try"),
    )
    state_json = [dumps(ledger_state_payload(r.state)) for r in results]
    risk_json = [None if r.risk is None else dumps(risk_state_payload(r.risk.state)) for r in results]
    closing = [chain_digest(s, k) for s, k in zip(state_json, risk_json)]
    out["ledger_metrics"] = columns(
        "ledger_metrics",
        n,
        cycle_ts=ts,
        cycle_id=cid,
        ts=ts,
        **_attrs([r.metrics for r in results], *LEDGER_MONEY),
        carried_from=[carried_from, *cid][:n],
        gap_cycles=[gap_cycles, *[0] * n][:n],
        opening_digest=[opening_digest, *closing][:n],
        closing_digest=closing,
        state_json=state_json,
    )
    risky = [(r, r.risk, k) for r, k in zip(results, risk_json) if r.risk is not None]
    decisions = [d for _, d, _ in risky]
    out["risk_decisions"] = _per_item(
        "risk_decisions",
        risky,
        mode=_values(decisions, "mode"),
        reasons_json=[dumps(list(d.reasons)) for d in decisions],
        drawdown=[d.drawdown.quantize(DRAWDOWN_STEP) for d in decisions],
        state_json=[k for *_, k in risky],
        **_attrs(decisions, "cooldown_until", "inputs_hash", "cleared_by", "daily_pnl_try"),
    )
    held = [(r, symbol, h, r.state.marks[symbol]) for r in results for symbol, h in r.state.holdings.items()]
    holdings = [h for _, _, h, _ in held]
    values = [h.qty * mark for _, _, h, mark in held]
    out["positions"] = _per_item(
        "positions",
        held,
        symbol=[s for _, s, _, _ in held],
        mark_price_try=[m for *_, m in held],
        market_value_try=values,
        unrealized_pnl_try=[v - h.cost_try for v, h in zip(values, holdings)],
        **_attrs(holdings, "qty", "cost_try", "avg_cost_try"),
    )
    return out


LEDGER_MONEY = (
    "gross_pnl_try",
    "realized_pnl_try",
    "unrealized_pnl_try",
    "net_pnl_try",
    "fees_try",
    "slippage_try",
    "turnover_try",
    "equity_try",
    "cash_try",
    "positions_value_try",
    "max_drawdown",
    "start_capital_try",
)
DRAWDOWN_STEP = Decimal("1E-12")


def trace_rows(
    traces: Sequence[CycleTrace], run_metrics: Columns, stamps: Sequence[datetime] | None = None
) -> dict[str, Columns]:
    """``stamps``: the traces' cycle times, when the caller holds them (the engine: its
    results'), instead of parsing each trace's text back."""
    stamps = [parse_ts(t.cycle_ts) for t in traces] if stamps is None else list(stamps)
    trace = columns(
        "cycle_trace",
        len(traces),
        cycle_ts=stamps,
        cycle_id=[t.cycle_id for t in traces],
        ts=stamps,
        **{c: [getattr(t, c) for t in traces] for c in TRACE_TEXT},
    )
    return {"cycle_trace": trace, "run_metrics": run_metrics}


TRACE_TEXT = (
    "base_mode",
    "final_mode",
    "selected_universe_json",
    "universe_scores_json",
    "intents_summary_json",
    "mode_json",
    "order_decisions_json",
    "portfolio_plan_json",
    "order_intents_json",
    "rules_stats_json",
    "active_params_json",
    "ledger_metrics_json",
    "market_notes_json",
)


def adaptation_rows(results: Sequence[Any], adapted: Sequence[Any], *, first: bool) -> dict[str, Columns]:
    """The adaptation's rows of consecutive cycles (``adapted``: their
    :class:`~btcbot_pipeline.domain.adaptation.fold.AdaptedCycle`): the version each ran with
    and the state carried on, each change decided, each checkpoint taken (``first``: the
    adaptation starts here, so version 1, the configured values, is the first checkpoint)."""
    from btcbot_pipeline.domain.adaptation import ChangeKind, values_text

    active, changes, checkpoints = [], [], []
    for res, a in zip(results, adapted):
        ts = res.cycle_ts
        active.append((ts, res.cycle_id, a.version, dumps(values_text(a.values)), dumps(to_payload(a.state))))
        c = a.change
        if c is not None:
            changes.append(
                (ts, res.cycle_id, c.change_id, c.kind.value, c.version_before, c.version_after,
                 dumps(dict(c.before)), dumps(dict(c.after)), c.reason, dumps(dict(c.metrics)), c.inputs_hash)
            )  # fmt: skip
            if c.kind is ChangeKind.CHECKPOINT:
                checkpoints.append((ts, res.cycle_id, c.version_after, dumps(dict(c.after)), res.metrics.equity_try))
    if first and adapted:
        start = adapted[0]
        equity = start.state.checkpoint.equity_try if start.state.checkpoint.version == 1 else None
        checkpoints.insert(0, (results[0].cycle_ts, results[0].cycle_id, 1, dumps(values_text(start.values)), equity))
    return {
        "params_active": from_rows("params_active", active),
        "param_changes": from_rows("param_changes", changes),
        "params_checkpoints": from_rows("params_checkpoints", checkpoints),
    }
