"""The gate suites, as data, and the exact Decimal rules behind them (pure: no GE, no I/O).

Each stage's gate is a :class:`Suite` of :class:`Expect` entries evaluated over a *frame*:
the stage's row tuples (exactly as :mod:`btcbot_pipeline.storage.rows` produces them for
the book) turned into records, plus derived boolean **flag** columns computed here with
exact ``Decimal`` arithmetic (tick grid, money identities, caps, per-cycle counts).
:mod:`btcbot_pipeline.quality.expectations` hands the frame and the suite to Great
Expectations; GE never compares money as floats. Every rule is written per cycle
(``cycle_ts`` is part of every key), so a range run validates each cycle of the range.

Severity: ``ERROR`` blocks the stage (nothing of the window is written and nothing
downstream runs); ``WARN`` is reported and the cycle goes on. Per-symbol faults are not
gate failures: the snapshot marks such a symbol not tradable with its reason, and the
flags below hold vacuously for non-tradable rows.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any, Iterable, Mapping, Sequence

from btcbot_pipeline.domain.exchange_rules import EffectiveRules, resolve_rules
from btcbot_pipeline.domain.market import SymbolRules
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, bps_factor
from btcbot_pipeline.domain.oms import LEGAL, OrderStatus
from btcbot_pipeline.domain.params import CycleParams, InvalidMetadataPolicy
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.storage.book import TABLES

ERROR, WARN = "ERROR", "WARN"
Record = dict[str, Any]
CLIENT_ORDER_ID = r"^s7:\d{8}T\d{6}Z:[A-Z0-9]+:(BUY|SELL):[0-9a-f]{12}$"


@dataclass(frozen=True, slots=True)
class Expect:
    """One expectation. ``kind``: ``flag`` (column is all True), ``unique`` (the columns
    together), ``not_null``, ``in_set``, ``regex`` or ``min_rows``."""

    name: str
    kind: str
    columns: tuple[str, ...]
    severity: str = ERROR
    value_set: tuple[Any, ...] = ()
    regex: str = ""
    observed: tuple[str, ...] = ()  # columns shown for offending rows
    description: str = ""

    @property
    def column(self) -> str:
        return ",".join(self.columns)


@dataclass(frozen=True, slots=True)
class Suite:
    name: str  # the asset check's name
    asset: str
    expectations: tuple[Expect, ...]
    key: tuple[str, ...] = ("cycle_ts", "symbol")  # identifies an offending row
    columns: tuple[str, ...] = ()  # every column of the frame (so an empty frame has them)


@dataclass(frozen=True, slots=True)
class Failure:
    expectation: str  # our name, e.g. price_on_tick_grid
    ge_type: str  # the GE expectation type, e.g. expect_column_values_to_be_in_set
    column: str
    severity: str
    observed: Any  # unexpected count / observed value
    rows: tuple[dict[str, Any], ...]  # up to 5 offending rows: key + observed columns

    def text(self) -> str:
        rows = "; ".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in self.rows)
        return f"{self.expectation} ({self.ge_type} on {self.column}) failed: observed {self.observed}" + (
            f"; rows: {rows}" if rows else ""
        )


@dataclass(frozen=True, slots=True)
class GateResult:
    suite: Suite
    failures: tuple[Failure, ...] = ()
    evaluated: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def blocking(self) -> bool:
        return any(f.severity == ERROR for f in self.failures)

    @property
    def severity(self) -> str:
        return ERROR if self.blocking else WARN

    def describe(self) -> str:
        if self.passed:
            return f"{self.suite.name}: {self.evaluated} expectations passed"
        return f"{self.suite.name} failed: " + " | ".join(f.text() for f in self.failures)


@dataclass(frozen=True, slots=True)
class GateParams:
    """Thresholds of every gate (from settings)."""

    cycle: CycleParams = field(default_factory=CycleParams)
    max_excluded_share: Decimal = Decimal("0.5")  # STAGE7_MAX_EXCLUDED_SHARE


# --- frames -------------------------------------------------------------------------


def records(table: str, rows: Iterable[Sequence[Any]]) -> list[Record]:
    """Row tuples of ``table`` (book column order) as dicts."""
    names = [c for c, _ in TABLES[table]]
    return [dict(zip(names, row)) for row in rows]


def _by_cycle(recs: Iterable[Record]) -> dict[datetime, list[Record]]:
    grouped: dict[datetime, list[Record]] = defaultdict(list)
    for r in recs:
        grouped[r["cycle_ts"]].append(r)
    return grouped


def _pos(v: Decimal | None) -> bool:
    return v is not None and v > ZERO


def market_frame(
    rows: Sequence[Sequence[Any]],
    gp: GateParams,
    cycles: Sequence[Sequence[Any]] = (),
) -> list[Record]:
    """``market_snapshot`` rows with the snapshot gate's flags (the exchange rules come
    from the row's own rule columns).

    ``cycles`` (``market_cycles`` rows) say which cycles the source itself reported
    degraded: such a cycle is OBSERVE_ONLY by its mode, so its exclusions are not a gate
    failure. A non-degraded cycle without any symbol gets one placeholder record (symbol
    ``None``, everything excluded) so the gate sees it.
    """
    recs = records("market_snapshot", rows)
    p = gp.cycle
    degraded = {r["cycle_ts"] for r in records("market_cycles", cycles) if r["degraded_reason"]}
    seen = {r["cycle_ts"] for r in recs}
    for c in records("market_cycles", cycles):
        if c["cycle_ts"] not in seen and c["cycle_ts"] not in degraded:
            recs.append({name: None for name, _ in TABLES["market_snapshot"]} | {
                "cycle_ts": c["cycle_ts"], "cycle_id": c["cycle_id"], "tradable": False, "skip_reason": "no_candidates"})
    for ts, cycle in _by_cycle(recs).items():
        # Only data faults count: a symbol without usable exchange rules is excluded too,
        # but nothing about its prices is unsafe, and a dataset made without an
        # exchangeinfo.json (it is optional) must still run, trading nothing, each symbol
        # skipped with rules_unavailable:<status> (the seeds' behaviour; doctor warns).
        excluded = sum(1 for r in cycle if not r["tradable"] and not (r["skip_reason"] or "").startswith("rules_unavailable:"))
        share = Decimal(excluded) / Decimal(len(cycle))
        for r in cycle:
            r["excluded_share"] = share
            # false on the excluded rows of an over-excluded cycle: those are the rows to show
            r["excluded_share_ok"] = ts in degraded or share <= gp.max_excluded_share or bool(r["tradable"])
    usable: dict[tuple[Any, ...], bool] = {}
    for r in recs:
        t = bool(r["tradable"])
        bid, ask, mark = r["best_bid"], r["best_ask"], r["mark_price_try"]
        r["prices_positive"] = not t or (_pos(bid) and _pos(ask) and _pos(mark))
        r["bid_le_ask"] = not t or (bid is not None and ask is not None and bid <= ask)
        vol = r["quote_volume_try"]
        r["volume_non_negative"] = vol is None or vol >= ZERO
        r["fresh"] = not t or (r["staleness_s"] is not None and r["staleness_s"] <= p.max_data_age_s)
        spread = r["spread_bps"]
        r["spread_within_bound"] = not t or (spread is not None and spread <= p.universe.max_spread_bps)
        r["reason_matches_tradable"] = t == (r["skip_reason"] is None)
        if t and p.rules.invalid_metadata_policy is InvalidMetadataPolicy.SKIP_SYMBOL:
            # The rules do not change within a run: resolve each distinct set once.
            key = (r["symbol"], r["has_rules"], r["tick_size"], r["lot_size"], r["min_notional_try"],
                   r["price_scale"], r["quantity_scale"], r["exchange_status"])
            if key not in usable:
                usable[key] = resolve_rules(r["symbol"], _row_rules(r), p.rules).usable
            r["rules_usable"] = usable[key]
        else:  # not tradable, or observe_only_cycle: the cycle's mode guards unusable rules
            r["rules_usable"] = True
    return recs


def _row_rules(r: Record) -> SymbolRules | None:
    """The exchange rules a ``market_snapshot`` row carries in its columns."""
    if not r.get("has_rules"):
        return None
    return SymbolRules(
        symbol=r["symbol"], tick_size=r["tick_size"], lot_size=r["lot_size"], min_notional_try=r["min_notional_try"],
        price_scale=r["price_scale"], quantity_scale=r["quantity_scale"], status=r["exchange_status"],
    )


def universe_frame(rows: Sequence[Sequence[Any]], gp: GateParams) -> list[Record]:
    """``universe`` rows with the universe gate's flags."""
    recs = records("universe", rows)
    u = gp.cycle.universe
    for cycle in _by_cycle(recs).values():
        n_selected = sum(1 for r in cycle if r["selected"])
        ranked = sorted((r for r in cycle if r["rank"] is not None), key=lambda r: r["rank"])
        ordered = [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
        keys = [(-r["total_score"], -r["liquidity_score"], r["symbol"]) for r in ranked]
        ordered = ordered and all(a <= b for a, b in zip(keys, keys[1:]))
        for r in cycle:
            r["n_selected"] = n_selected
            r["size_within_limit"] = n_selected <= u.size
            r["ranked_in_order"] = ordered
    for r in recs:
        sym, sel = r["symbol"], bool(r["selected"])
        r["symbol_allowed"] = not sel or ((not u.whitelist or sym in u.whitelist) and sym not in u.blacklist)
        r["selected_is_top_ranked"] = not sel or (r["rank"] is not None and r["rank"] <= u.size)
        r["rejected_has_reason"] = r["rank"] is not None or bool(r["reject_reason"])
    return recs


def plan_frame(actions: Sequence[Sequence[Any]], plans: Sequence[Sequence[Any]], gp: GateParams) -> list[Record]:
    """``plan_actions`` rows with the plan gate's flags (mode from ``portfolio_plan`` rows)."""
    recs = records("plan_actions", actions)
    modes = {r["cycle_ts"]: Mode(r["final_mode"]) for r in records("portfolio_plan", plans)}
    pol = gp.cycle.policy
    for ts, cycle in _by_cycle(recs).items():
        cycle.sort(key=lambda r: r["seq"])
        last_sell = max((r["seq"] for r in cycle if r["side"] == "SELL"), default=-1)
        planned = [r for r in cycle if r["status"] == "PLANNED"]
        total = sum((r["notional_try"] or ZERO for r in planned), ZERO)
        for r in cycle:
            r["sell_before_buy"] = r["side"] != "BUY" or r["seq"] > last_sell
            r["cycle_notional_try"] = total
            r["cycle_notional_within_cap"] = total <= pol.notional_cap_try_per_cycle
            r["buy_allowed_by_mode"] = not (r["side"] == "BUY" and r["status"] == "PLANNED") or modes.get(ts, Mode.OBSERVE_ONLY).allows_buy
    for r in recs:
        planned = r["status"] == "PLANNED"
        # Only a BUY adds exposure: a SELL that unwinds an oversized position (opened from
        # real balances, or before the cap was lowered) may exceed the per-symbol cap.
        buys = planned and r["side"] == "BUY"
        r["notional_within_symbol_cap"] = not buys or (r["notional_try"] or ZERO) <= pol.max_position_notional_try
        r["skipped_has_reason"] = r["status"] != "SKIPPED" or bool(r["skip_reason"])
    return recs


def intents_frame(
    intents: Sequence[Sequence[Any]],
    plans: Sequence[Sequence[Any]],
    rules: Mapping[tuple[datetime, str], EffectiveRules],
    gp: GateParams,
) -> list[Record]:
    """``order_intents`` rows with the intents gate's flags; ``rules`` are the effective
    rules each cycle quantised with, by ``(cycle_ts, symbol)``."""
    recs = records("order_intents", intents)
    plan_by_ts = {r["cycle_ts"]: r for r in records("portfolio_plan", plans)}
    ex = gp.cycle.execution
    slip, fee = bps_factor(ex.slippage_bps), bps_factor(ex.fees_bps)
    for ts, cycle in _by_cycle(recs).items():
        plan = plan_by_ts.get(ts)
        mode = Mode(plan["final_mode"]) if plan else Mode.OBSERVE_ONLY
        seen_buy, order_ok = False, True
        with localcontext(MONEY_CONTEXT):
            budget = (plan["cash_try"] - plan["cash_target_try"]) if plan else ZERO
            any_buy = False
            for r in cycle:
                if r["status"] != "PLANNED":
                    continue
                if r["side"] == "BUY":
                    seen_buy = any_buy = True
                    budget -= r["qty"] * r["mark_price_try"] * (ONE + slip) * (ONE + fee)
                else:
                    order_ok = order_ok and not seen_buy
                    budget += r["qty"] * r["mark_price_try"] * (ONE - slip) * (ONE - fee)
        for r in cycle:
            r["sell_before_buy"] = order_ok
            r["cash_after_buys_try"] = budget
            r["cash_target_respected"] = not any_buy or budget >= ZERO
            r["buy_allowed_by_mode"] = not (r["side"] == "BUY" and r["status"] == "PLANNED") or mode.allows_buy
    for r in recs:
        planned = r["status"] == "PLANNED"
        eff = rules.get((r["cycle_ts"], r["symbol"]))
        price, qty = r["price_try"], r["qty"]
        usable = eff is not None and eff.usable
        r["price_on_tick_grid"] = not planned or (usable and price is not None and price % eff.price_step == ZERO)  # type: ignore[union-attr,operator]
        r["qty_on_lot_grid"] = not planned or (usable and qty is not None and qty > ZERO and qty % eff.quantity_step == ZERO)  # type: ignore[union-attr,operator]
        r["notional_at_least_min"] = not planned or (
            usable and price is not None and qty is not None and price * qty >= eff.min_notional_try  # type: ignore[union-attr,operator]
        )
        r["skipped_has_reason"] = r["status"] != "SKIPPED" or bool(r["skip_reason"])
    return recs


def fills_frame(rows: Sequence[Sequence[Any]], gp: GateParams, orders: Sequence[Sequence[Any]] = ()) -> list[Record]:
    """Fills with their price checked against the fill model: the seed model fills at the
    mark ± slippage; the limit model never pays more than a BUY's limit nor gets less than
    a SELL's (the orders' limits come from the same cycles' ``orders`` rows)."""
    recs = records("fills", rows)
    slip = bps_factor(gp.cycle.execution.slippage_bps)
    seed = gp.cycle.oms.fill_model == "seed"
    limits = {(o["cycle_ts"], o["client_order_id"]): o["price_try"] for o in records("orders", orders)}
    for r in recs:
        mark, price = r["mark_price_try"], r["fill_price_try"]
        r["fee_non_negative"] = r["fee_try"] is not None and r["fee_try"] >= ZERO
        r["price_within_slippage"] = not seed or (mark is not None and price is not None and abs(price - mark) <= mark * slip)
        limit = limits.get((r["cycle_ts"], r["client_order_id"]))
        r["limit_price_try"] = limit
        r["price_within_limit"] = seed or (
            limit is not None and price is not None and (price <= limit if r["side"] == "BUY" else price >= limit)
        )
    return recs


def order_events_frame(rows: Sequence[Sequence[Any]]) -> list[Record]:
    """Order events with each order's sequence checked: numbered 1, 2, 3, … without a gap
    (an order's earlier events may lie before the chunk), and every status change one
    that the order state machine allows (:data:`~btcbot_pipeline.domain.oms.LEGAL`)."""
    recs = records("order_events", rows)
    by_order: dict[str, list[Record]] = defaultdict(list)
    for r in recs:
        by_order[r["client_order_id"]].append(r)
        r["symbol"] = None
    for events in by_order.values():
        events.sort(key=lambda e: (e["seq"] is None, e["seq"]))
        previous_seq: int | None = None
        status: str | None = None
        for e in events:
            seq, after = e["seq"], e["status_after"]
            ok = seq is not None and (previous_seq is None or seq == previous_seq + 1)
            if status is None and seq == 1:
                status = OrderStatus.PLANNED.value
            if ok and status is not None and after != status:
                ok = OrderStatus(after) in LEGAL[OrderStatus(status)]
            e["event_sequence_legal"] = ok
            previous_seq, status = seq, after
    return recs


def ledger_frame(metrics: Sequence[Sequence[Any]], positions: Sequence[Sequence[Any]], gp: GateParams) -> list[Record]:
    """``ledger_metrics`` rows with the money identities checked exactly."""
    recs = records("ledger_metrics", metrics)
    held = _by_cycle(records("positions", positions))
    with localcontext(MONEY_CONTEXT):
        for r in recs:
            pos = held.get(r["cycle_ts"], [])
            marked = sum((p["qty"] * p["mark_price_try"] for p in pos), ZERO)
            r["gross_identity"] = r["gross_pnl_try"] == r["realized_pnl_try"] + r["unrealized_pnl_try"]
            r["net_identity"] = r["net_pnl_try"] == r["gross_pnl_try"] - r["fees_try"] - r["slippage_try"]
            r["equity_identity"] = (
                r["equity_try"] == r["start_capital_try"] + r["net_pnl_try"] == r["cash_try"] + marked
            )
            r["drawdown_in_unit_interval"] = ZERO <= r["max_drawdown"] <= ONE
            r["no_negative_position"] = all(p["qty"] > ZERO for p in pos) and r["cash_try"] >= ZERO
            r["no_missing_cycles"] = not r.get("gap_cycles")
            r["symbol"] = None  # ledger rows are per cycle
    return recs


CHAIN_COLUMNS = ("cycle_ts", "cycle_id", "carried_from", "opening_digest", "previous_cycle_id", "previous_closing_digest")


def chain_frame(links: Sequence[Sequence[Any]]) -> list[Record]:
    """The book's chain links (:meth:`~btcbot_pipeline.storage.book.Book.chain`): each
    cycle must name the cycle just before it in the book and open from the digest of the
    state that cycle closed with; only the book's first cycle opens (from nothing)."""
    recs = [dict(zip(CHAIN_COLUMNS, link)) for link in links]
    for r in recs:
        r["starts_from_previous_cycle"] = (
            r["carried_from"] == r["previous_cycle_id"] and r["opening_digest"] == r["previous_closing_digest"]
        )
        r["symbol"] = None
    return recs


def trace_frame(rows: Sequence[Sequence[Any]], gp: GateParams) -> list[Record]:
    recs = records("cycle_trace", rows)
    for r in recs:
        r["final_not_looser_than_base"] = Mode(r["final_mode"]).rank >= Mode(r["base_mode"]).rank
        decisions = json.loads(r["order_decisions_json"])
        r["skipped_has_reason"] = all(d["reason"] for d in decisions if d["status"] == "SKIPPED")
        r["symbol"] = None
    return recs


# --- suites -------------------------------------------------------------------------


def _flag(name: str, *observed: str, severity: str = ERROR, description: str = "") -> Expect:
    return Expect(name, "flag", (name,), severity, observed=observed, description=description)


def _cols(table: str, *extra: str) -> tuple[str, ...]:
    return tuple(c for c, _ in TABLES[table]) + extra


MARKET_SUITE = Suite(
    "market_snapshot_gate",
    "market_snapshot",
    (
        Expect("symbol_present", "not_null", ("symbol",)),
        Expect("one_row_per_symbol", "unique", ("cycle_ts", "symbol")),
        _flag("excluded_share_ok", "excluded_share", "skip_reason", description="share of candidates excluded <= STAGE7_MAX_EXCLUDED_SHARE"),
        _flag("prices_positive", "best_bid", "best_ask", description="tradable: bid, ask, mark > 0"),
        _flag("bid_le_ask", "best_bid", "best_ask", description="tradable: bid <= ask"),
        _flag("volume_non_negative", "quote_volume_try"),
        _flag("fresh", "staleness_s", description="tradable: staleness <= STAGE7_MAX_DATA_AGE_SEC"),
        _flag("rules_usable", "tick_size", "lot_size", "exchange_status", description="tradable: rules present and valid"),
        _flag("spread_within_bound", "spread_bps", severity=WARN, description="tradable: spread <= STAGE7_MAX_SPREAD_BPS"),
        _flag("reason_matches_tradable", "tradable", "skip_reason", severity=WARN),
    ),
    columns=_cols("market_snapshot", "excluded_share", "excluded_share_ok", "prices_positive", "bid_le_ask",
                  "volume_non_negative", "fresh", "rules_usable", "spread_within_bound", "reason_matches_tradable"),
)

UNIVERSE_SUITE = Suite(
    "universe_gate",
    "universe",
    (
        Expect("one_row_per_symbol", "unique", ("cycle_ts", "symbol")),
        _flag("size_within_limit", "n_selected", description="selected <= STAGE7_UNIVERSE_SIZE"),
        _flag("symbol_allowed", "selected", description="selected symbols whitelisted and not blacklisted"),
        _flag("ranked_in_order", "rank", "total_score", description="rank by score desc, liquidity desc, symbol"),
        _flag("selected_is_top_ranked", "rank"),
        _flag("rejected_has_reason", "reject_reason", severity=WARN),
    ),
    columns=_cols("universe", "n_selected", "size_within_limit", "symbol_allowed", "ranked_in_order",
                  "selected_is_top_ranked", "rejected_has_reason"),
)

PLAN_SUITE = Suite(
    "portfolio_plan_gate",
    "portfolio_plan",
    (
        Expect("one_row_per_action", "unique", ("cycle_ts", "seq")),
        Expect("side_known", "in_set", ("side",), value_set=("BUY", "SELL")),
        _flag("sell_before_buy", "seq", "side"),
        _flag("notional_within_symbol_cap", "notional_try", description="<= MAX_POSITION_NOTIONAL_TRY"),
        _flag("cycle_notional_within_cap", "cycle_notional_try", description="<= NOTIONAL_CAP_TRY_PER_CYCLE"),
        _flag("buy_allowed_by_mode", "side", "status"),
        _flag("skipped_has_reason", "status", "skip_reason"),
    ),
    columns=_cols("plan_actions", "sell_before_buy", "cycle_notional_try", "cycle_notional_within_cap",
                  "buy_allowed_by_mode", "notional_within_symbol_cap", "skipped_has_reason"),
)

INTENTS_SUITE = Suite(
    "order_intents_gate",
    "order_intents",
    (
        Expect("client_order_id_unique", "unique", ("client_order_id",)),
        Expect("client_order_id_well_formed", "regex", ("client_order_id",), regex=CLIENT_ORDER_ID),
        _flag("price_on_tick_grid", "price_try"),
        _flag("qty_on_lot_grid", "qty"),
        _flag("notional_at_least_min", "notional_try"),
        _flag("sell_before_buy", "side"),
        _flag("cash_target_respected", "cash_after_buys_try"),
        _flag("buy_allowed_by_mode", "side", "status"),
        _flag("skipped_has_reason", "status", "skip_reason"),
    ),
    columns=_cols("order_intents", "sell_before_buy", "cash_after_buys_try", "cash_target_respected",
                  "buy_allowed_by_mode", "price_on_tick_grid", "qty_on_lot_grid", "notional_at_least_min",
                  "skipped_has_reason"),
)

FILLS_SUITE = Suite(
    "simulated_fills_gate",
    "simulated_fills",
    (
        Expect("fill_id_unique", "unique", ("fill_id",)),
        _flag("fee_non_negative", "fee_try"),
        _flag("price_within_slippage", "fill_price_try", "mark_price_try",
              description="seed fill model: the fill price is the mark ± STAGE7_SLIPPAGE_BPS"),
        _flag("price_within_limit", "side", "fill_price_try", "limit_price_try",
              description="limit fill model: a BUY never fills above its limit, a SELL never below"),
    ),
    columns=_cols("fills", "fee_non_negative", "price_within_slippage", "limit_price_try", "price_within_limit"),
)

ORDER_EVENTS_SUITE = Suite(
    "order_lifecycle_gate",
    "simulated_fills",
    (
        Expect("event_id_unique", "unique", ("event_id",)),
        _flag("event_sequence_legal", "client_order_id", "seq", "event_type", "status_after",
              description="each order's events are numbered without a gap and move it only as the state machine allows"),
    ),
    key=("cycle_ts", "client_order_id"),
    columns=_cols("order_events", "event_sequence_legal", "symbol"),
)

LEDGER_SUITE = Suite(
    "ledger_snapshot_gate",
    "ledger_snapshot",
    (
        Expect("one_row_per_cycle", "unique", ("cycle_ts",)),
        _flag("gross_identity", "gross_pnl_try", "realized_pnl_try", "unrealized_pnl_try"),
        _flag("net_identity", "net_pnl_try", "fees_try", "slippage_try"),
        _flag("equity_identity", "equity_try", "cash_try", "positions_value_try"),
        _flag("drawdown_in_unit_interval", "max_drawdown"),
        _flag("no_negative_position", "cash_try"),
        _flag("no_missing_cycles", "gap_cycles", "carried_from", severity=WARN,
              description="the ledger carried over from the cycle just before (gap_cycles = 0)"),
    ),
    columns=_cols("ledger_metrics", "gross_identity", "net_identity", "equity_identity", "drawdown_in_unit_interval",
                  "no_negative_position", "no_missing_cycles", "symbol"),
)

# Over the book, not the run's rows: the window's cycles and the first cycle after it.
CHAIN_SUITE = Suite(
    "ledger_chain_gate",
    "ledger_snapshot",
    (
        _flag("starts_from_previous_cycle", "cycle_id", "carried_from", "previous_cycle_id", "opening_digest",
              "previous_closing_digest",
              description="each cycle opens from the state the book's previous cycle closed with (its id and state "
                          "digest); only the book's first cycle opens from nothing, so the book opens once"),
    ),
    columns=(*CHAIN_COLUMNS, "starts_from_previous_cycle", "symbol"),
)

TRACE_SUITE = Suite(
    "cycle_trace_gate",
    "cycle_trace",
    (
        Expect("one_row_per_cycle", "unique", ("cycle_ts",)),
        _flag("final_not_looser_than_base", "base_mode", "final_mode"),
        _flag("skipped_has_reason", "cycle_id"),
    ),
    columns=_cols("cycle_trace", "final_not_looser_than_base", "skipped_has_reason", "symbol"),
)

SUITES = {
    s.name: s
    for s in (
        MARKET_SUITE, UNIVERSE_SUITE, PLAN_SUITE, INTENTS_SUITE, FILLS_SUITE, ORDER_EVENTS_SUITE, LEDGER_SUITE, CHAIN_SUITE,
        TRACE_SUITE,
    )
}


# --- exact evaluation (the offending rows; also the pure reference for tests) ---------


def offending(expect: Expect, recs: Sequence[Record]) -> list[int]:
    """Indexes of the records that break ``expect``, as Great Expectations counts them:
    a column's missing values are not checked by ``in_set``, ``regex`` or ``unique`` (only
    ``not_null`` checks them; a flag is never missing); a compound key counts unless all
    of its values are missing."""
    col = expect.columns[0] if expect.columns else ""
    if expect.kind == "flag":
        return [i for i, r in enumerate(recs) if r.get(col) is not True]
    if expect.kind == "not_null":
        return [i for i, r in enumerate(recs) if r.get(col) is None]
    if expect.kind == "in_set":
        return [i for i, r in enumerate(recs) if r.get(col) is not None and r.get(col) not in expect.value_set]
    if expect.kind == "regex":
        pattern = re.compile(expect.regex)
        return [i for i, r in enumerate(recs) if r.get(col) is not None and not pattern.search(str(r[col]))]
    if expect.kind == "unique":
        counts: dict[tuple[Any, ...], int] = defaultdict(int)
        keys = [tuple(r.get(c) for c in expect.columns) for r in recs]
        counted = [any(v is not None for v in k) for k in keys]
        for k, c in zip(keys, counted):
            if c:
                counts[k] += 1
        return [i for i, (k, c) in enumerate(zip(keys, counted)) if c and counts[k] > 1]
    if expect.kind == "min_rows":
        return []
    raise ValueError(f"unknown expectation kind {expect.kind!r}")


def ge_type(expect: Expect) -> str:
    """The Great Expectations expectation type that checks ``expect`` (see
    :func:`btcbot_pipeline.quality.expectations._expectation`)."""
    if expect.kind == "unique" and len(expect.columns) > 1:
        return "expect_compound_columns_to_be_unique"
    return {
        "flag": "expect_column_values_to_be_in_set",
        "in_set": "expect_column_values_to_be_in_set",
        "not_null": "expect_column_values_to_not_be_null",
        "regex": "expect_column_values_to_match_regex",
        "unique": "expect_column_values_to_be_unique",
        "min_rows": "expect_table_row_count_to_be_between",
    }[expect.kind]


def shown(value: Any) -> Any:
    """A value as an offending row shows it (exact decimal text, UTC time text)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def failure_rows(suite: Suite, expect: Expect, recs: Sequence[Record], limit: int = 5) -> tuple[dict[str, Any], ...]:
    cols = list(dict.fromkeys([*suite.key, *expect.observed, *(c for c in expect.columns if expect.kind != "flag")]))
    return tuple({c: shown(recs[i].get(c)) for c in cols} for i in offending(expect, recs)[:limit])


def evaluate_exact(suite: Suite, recs: Sequence[Record]) -> GateResult:
    """The suite without GE, in pure Python: the verdict GE gives over the same records,
    failure for failure (expectation type, column, observed count, offending rows); a test
    holds the two equal. A run of a few cycles validates this way (``GATE_VALIDATOR``)."""
    failures = []
    for e in suite.expectations:
        if e.kind == "min_rows":
            if not recs:
                failures.append(Failure(e.name, ge_type(e), e.column, e.severity, 0, ()))
            continue
        bad = offending(e, recs)
        if bad:
            failures.append(Failure(e.name, ge_type(e), e.column, e.severity, len(bad), failure_rows(suite, e, recs)))
    return GateResult(suite, tuple(failures), len(suite.expectations))


def gate_failure_rows(result: GateResult, recs: Sequence[Record], cycle_id_for: Any) -> list[tuple[Any, ...]]:
    """``gate_failures`` rows: one per (cycle, failed expectation) of the blocking failures.

    The detail, exact: ``<GE type> on <column>: observed <chunk's count> (<n> at this
    cycle); rows: <name>=<value>, …; …`` (this cycle's first five offending rows). The
    count at this cycle lets a reader say the failure in trading terms per cycle
    (:func:`btcbot_pipeline.defs.cycle.checks.gate_failure_text`)."""
    out: list[tuple[Any, ...]] = []
    exp_by_name = {e.name: e for e in result.suite.expectations}
    for f in result.failures:
        if f.severity != ERROR:
            continue
        e = exp_by_name[f.expectation]
        idx = offending(e, recs)
        cycles = sorted({recs[i]["cycle_ts"] for i in idx}) or sorted({r["cycle_ts"] for r in recs})
        for ts in cycles:
            mine = [recs[i] for i in idx if recs[i]["cycle_ts"] == ts]
            listed = "; ".join(
                ", ".join(f"{c}={shown(r.get(c))}" for c in (*result.suite.key[1:], *e.observed)) for r in mine[:5]
            )
            here = f" ({len(mine)} at this cycle)" if mine else ""
            detail = f"{f.ge_type} on {f.column}: observed {f.observed}{here}" + (f"; rows: {listed}" if listed else "")
            out.append((ts, cycle_id_for(ts), result.suite.asset, result.suite.name, f.expectation, detail))
    return out


def trading_frames(rows: Mapping[str, Sequence[Sequence[Any]]], results: Sequence[Any], gp: GateParams) -> list[tuple[Suite, list[Record]]]:
    """The suites of the ``trading_cycle`` step over its rows (``results``: the
    :class:`~btcbot_pipeline.domain.cycle.CycleResult` list, for the effective rules)."""
    eff = {(res.cycle_ts, r.symbol): r for res in results for r in res.rules}
    return [
        (PLAN_SUITE, plan_frame(rows["plan_actions"], rows["portfolio_plan"], gp)),
        (INTENTS_SUITE, intents_frame(rows["order_intents"], rows["portfolio_plan"], eff, gp)),
        (FILLS_SUITE, fills_frame(rows["fills"], gp, rows["orders"])),
        (ORDER_EVENTS_SUITE, order_events_frame(rows["order_events"])),
        (LEDGER_SUITE, ledger_frame(rows["ledger_metrics"], rows["positions"], gp)),
    ]


def window_frames(
    rows: Mapping[str, Sequence[Sequence[Any]]], results: Sequence[Any], gp: GateParams
) -> list[tuple[Suite, list[Record]]]:
    """All seven suites over one chunk's rows, in stage order (market first)."""
    return [
        (MARKET_SUITE, market_frame(rows["market_snapshot"], gp, rows["market_cycles"])),
        (UNIVERSE_SUITE, universe_frame(rows["universe"], gp)),
        *trading_frames(rows, results, gp),
        (TRACE_SUITE, trace_frame(rows["cycle_trace"], gp)),
    ]
