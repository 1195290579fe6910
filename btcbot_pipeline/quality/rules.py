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
from enum import Enum
from typing import Any, Mapping, Sequence, TypeVar

import orjson

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.exchange_rules import EffectiveRules, resolve_rules
from btcbot_pipeline.domain.market import SymbolRules
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, bps_factor
from btcbot_pipeline.domain.oms import LEGAL, OrderStatus
from btcbot_pipeline.domain.params import CycleParams, InvalidMetadataPolicy
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.storage.schema import TABLES

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


class Frame:
    """A suite's frame: the stage's rows as columns (as :mod:`~btcbot_pipeline.storage.rows`
    builds them for the book, by column name) plus the derived flag columns.

    Rows are never turned into dicts on the way: a flag is a column computed from columns,
    and a record (``frame[i]``) is made only to show an offending row."""

    __slots__ = ("columns", "n")

    def __init__(self, columns: dict[str, list[Any]], n: int) -> None:
        self.columns = columns
        self.n = n

    @classmethod
    def of(cls, table: str | None, rows: Any) -> Frame:
        """``rows`` as a frame: a frame, the columns of ``table`` (a dict of lists), its row
        tuples in schema order, or records (dicts)."""
        if isinstance(rows, Frame):
            return rows
        if isinstance(rows, dict):  # the rows' own lists: a frame adds columns, never changes these
            return cls(dict(rows), len(next(iter(rows.values()))) if rows else 0)
        rows = list(rows)
        if rows and isinstance(rows[0], dict):
            names = list(dict.fromkeys(k for r in rows for k in r))
            return cls({k: [r.get(k) for r in rows] for k in names}, len(rows))
        names = [c for c, _ in TABLES[table]] if table else []
        if not rows:
            return cls({k: [] for k in names}, 0)
        return cls({k: list(v) for k, v in zip(names, zip(*rows))}, len(rows))

    @classmethod
    def concat(cls, frames: Sequence[Frame]) -> Frame:
        """Frames with the same columns, one after the other."""
        if not frames:
            return cls({}, 0)
        if len(frames) == 1:
            return frames[0]
        names = list(frames[0].columns)
        return cls({k: [v for f in frames for v in f.col(k)] for k in names}, sum(f.n for f in frames))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            cols = {k: v[key] for k, v in self.columns.items()}
            return Frame(cols, len(range(*key.indices(self.n))))
        return {k: v[key] for k, v in self.columns.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frame) and self.n == other.n and self.columns == other.columns

    def __repr__(self) -> str:
        return f"Frame({self.n} rows: {', '.join(self.columns)})"

    def col(self, name: str) -> list[Any]:
        """A column (all ``None`` when the frame has no such column)."""
        found = self.columns.get(name)
        return found if found is not None else [None] * self.n

    def set(self, name: str, values: list[Any]) -> None:
        if len(values) != self.n:
            raise ValueError(f"column {name} has {len(values)} values for {self.n} rows")
        self.columns[name] = values

    def add_row(self, values: Mapping[str, Any]) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))
        self.n += 1

    def records(self) -> list[Record]:
        names = list(self.columns)
        return [dict(zip(names, row)) for row in zip(*self.columns.values())] if names else [{} for _ in range(self.n)]

    def groups(self, column: str = "cycle_ts") -> dict[Any, list[int]]:
        """Row indexes by the value of ``column`` (a cycle's rows), in first-seen order.

        A row equal to the one before goes to the same list without a look-up: a cycle's
        rows are usually together."""
        out: dict[Any, list[int]] = {}
        last: Any = _NOTHING
        rows: list[int] = []
        for i, v in enumerate(self.col(column)):
            if v != last:
                rows = out.setdefault(v, [])
                last = v
            rows.append(i)
        return out


_NOTHING = object()  # equal to no value

_E = TypeVar("_E", bound=Enum)
# Each enum's members by value: ``Mode(text)`` goes through the enum's metaclass in Python
# (about half a microsecond), and the frames read some 18,000 a batch of cycles.
_MEMBERS: dict[type[Enum], dict[Any, Enum]] = {kind: {m.value: m for m in kind} for kind in (Mode, OrderStatus)}


def _member(kind: type[_E], value: Any) -> _E:
    """``kind(value)``, looked up; an unknown value still raises as ``kind(value)`` does."""
    found = _MEMBERS[kind].get(value)
    return found if found is not None else kind(value)  # type: ignore[return-value]


def market_frame(rows: Any, gp: GateParams, cycles: Any = ()) -> Frame:
    """``market_snapshot`` rows with the snapshot gate's flags (the exchange rules come
    from the row's own rule columns).

    ``cycles`` (``market_cycles`` rows) say which cycles the source itself reported
    degraded: such a cycle is OBSERVE_ONLY by its mode, so its exclusions are not a gate
    failure. A non-degraded cycle without any symbol gets one placeholder row (symbol
    ``None``, everything excluded) so the gate sees it.
    """
    f = Frame.of("market_snapshot", rows)
    c = Frame.of("market_cycles", cycles)
    p = gp.cycle
    degraded = {ts for ts, why in zip(c.col("cycle_ts"), c.col("degraded_reason")) if why}
    seen = set(f.col("cycle_ts"))
    empty = [
        (ts, cid) for ts, cid in zip(c.col("cycle_ts"), c.col("cycle_id")) if ts not in seen and ts not in degraded
    ]
    if empty:  # placeholder rows go into copies of the columns, never into the rows to store
        f = Frame({name: list(values) for name, values in f.columns.items()}, f.n)
    for ts, cid in empty:
        f.add_row({"cycle_ts": ts, "cycle_id": cid, "tradable": False, "skip_reason": "no_candidates"})
    tradable, skip = f.col("tradable"), f.col("skip_reason")
    share, share_ok = [ZERO] * f.n, [True] * f.n
    for ts, idx in f.groups().items():
        # Only data faults count: a symbol without usable exchange rules is excluded too,
        # but nothing about its prices is unsafe, and a dataset made without an
        # exchangeinfo.json (it is optional) must still run, trading nothing, each symbol
        # skipped with rules_unavailable:<status> (the seeds' behaviour; doctor warns).
        excluded = sum(1 for i in idx if not tradable[i] and not (skip[i] or "").startswith("rules_unavailable:"))
        s = Decimal(excluded) / Decimal(len(idx))
        ok = ts in degraded or s <= gp.max_excluded_share
        for i in idx:
            share[i] = s
            # false on the excluded rows of an over-excluded cycle: those are the rows to show
            share_ok[i] = ok or bool(tradable[i])
    f.set("excluded_share", share)
    f.set("excluded_share_ok", share_ok)
    bids, asks, marks = f.col("best_bid"), f.col("best_ask"), f.col("mark_price_try")
    t = [bool(v) for v in tradable]
    f.set(
        "prices_positive",
        [
            not ti or (b is not None and b > ZERO and a is not None and a > ZERO and m is not None and m > ZERO)
            for ti, b, a, m in zip(t, bids, asks, marks)
        ],
    )
    f.set("bid_le_ask", [not ti or (b is not None and a is not None and b <= a) for ti, b, a in zip(t, bids, asks)])
    f.set("volume_non_negative", [v is None or v >= ZERO for v in f.col("quote_volume_try")])
    max_age = p.max_data_age_s
    f.set("fresh", [not ti or (s is not None and s <= max_age) for ti, s in zip(t, f.col("staleness_s"))])
    max_spread = p.universe.max_spread_bps
    f.set(
        "spread_within_bound", [not ti or (s is not None and s <= max_spread) for ti, s in zip(t, f.col("spread_bps"))]
    )
    f.set("reason_matches_tradable", [ti == (s is None) for ti, s in zip(t, skip)])
    usable_flags = [True] * f.n
    if p.rules.invalid_metadata_policy is InvalidMetadataPolicy.SKIP_SYMBOL:
        # The rules do not change within a run: resolve each distinct set once.
        usable: dict[tuple[Any, ...], bool] = {}
        rule_cols = [f.col(n) for n in RULE_COLUMNS]
        for i, key in enumerate(zip(*rule_cols)):
            if not t[i]:
                continue  # not tradable: nothing to trade with these rules
            if key not in usable:
                usable[key] = resolve_rules(key[0], _row_rules(dict(zip(RULE_COLUMNS, key))), p.rules).usable
            usable_flags[i] = usable[key]
    # observe_only_cycle: the cycle's mode guards unusable rules
    f.set("rules_usable", usable_flags)
    return f


RULE_COLUMNS = (
    "symbol",
    "has_rules",
    "tick_size",
    "lot_size",
    "min_notional_try",
    "price_scale",
    "quantity_scale",
    "exchange_status",
)


def _row_rules(r: Record) -> SymbolRules | None:
    """The exchange rules a ``market_snapshot`` row carries in its columns."""
    if not r.get("has_rules"):
        return None
    return SymbolRules(
        symbol=r["symbol"],
        tick_size=r["tick_size"],
        lot_size=r["lot_size"],
        min_notional_try=r["min_notional_try"],
        price_scale=r["price_scale"],
        quantity_scale=r["quantity_scale"],
        status=r["exchange_status"],
    )


def universe_frame(rows: Any, gp: GateParams) -> Frame:
    """``universe`` rows with the universe gate's flags."""
    f = Frame.of("universe", rows)
    u = gp.cycle.universe
    selected, rank, symbol = f.col("selected"), f.col("rank"), f.col("symbol")
    total, liquidity = f.col("total_score"), f.col("liquidity_score")
    n_selected, ordered_flags = [0] * f.n, [True] * f.n
    for idx in f.groups().values():
        n = sum(1 for i in idx if selected[i])
        ranked = sorted((i for i in idx if rank[i] is not None), key=lambda i: rank[i])
        ordered = [rank[i] for i in ranked] == list(range(1, len(ranked) + 1))
        keys = [(-total[i], -liquidity[i], symbol[i]) for i in ranked]
        ordered = ordered and all(a <= b for a, b in zip(keys, keys[1:]))
        for i in idx:
            n_selected[i], ordered_flags[i] = n, ordered
    f.set("n_selected", n_selected)
    f.set("size_within_limit", [n <= u.size for n in n_selected])
    f.set("ranked_in_order", ordered_flags)
    sel = [bool(v) for v in selected]
    f.set(
        "symbol_allowed",
        [not s or ((not u.whitelist or sym in u.whitelist) and sym not in u.blacklist) for s, sym in zip(sel, symbol)],
    )
    f.set("selected_is_top_ranked", [not s or (r is not None and r <= u.size) for s, r in zip(sel, rank)])
    f.set("rejected_has_reason", [r is not None or bool(why) for r, why in zip(rank, f.col("reject_reason"))])
    return f


def plan_frame(actions: Any, plans: Any, gp: GateParams) -> Frame:
    """``plan_actions`` rows with the plan gate's flags (mode from ``portfolio_plan`` rows)."""
    f = Frame.of("plan_actions", actions)
    p = Frame.of("portfolio_plan", plans)
    modes = {ts: _member(Mode, m) for ts, m in zip(p.col("cycle_ts"), p.col("final_mode"))}
    pol = gp.cycle.policy
    seq, side, status, notional = f.col("seq"), f.col("side"), f.col("status"), f.col("notional_try")
    sell_first, totals, within, allowed = [True] * f.n, [ZERO] * f.n, [True] * f.n, [True] * f.n
    for ts, idx in f.groups().items():
        last_sell = max((seq[i] for i in idx if side[i] == "SELL"), default=-1)
        total = sum((notional[i] or ZERO for i in idx if status[i] == "PLANNED"), ZERO)
        allows_buy = modes.get(ts, Mode.OBSERVE_ONLY).allows_buy
        for i in idx:
            sell_first[i] = side[i] != "BUY" or seq[i] > last_sell
            totals[i] = total
            within[i] = total <= pol.notional_cap_try_per_cycle
            allowed[i] = not (side[i] == "BUY" and status[i] == "PLANNED") or allows_buy
    f.set("sell_before_buy", sell_first)
    f.set("cycle_notional_try", totals)
    f.set("cycle_notional_within_cap", within)
    f.set("buy_allowed_by_mode", allowed)
    # Only a BUY adds exposure: a SELL that unwinds an oversized position (opened from
    # real balances, or before the cap was lowered) may exceed the per-symbol cap.
    cap = pol.max_position_notional_try
    f.set(
        "notional_within_symbol_cap",
        [not (st == "PLANNED" and sd == "BUY") or (n or ZERO) <= cap for st, sd, n in zip(status, side, notional)],
    )
    f.set("skipped_has_reason", [st != "SKIPPED" or bool(why) for st, why in zip(status, f.col("skip_reason"))])
    return f


def intents_frame(
    intents: Any, plans: Any, rules: Mapping[tuple[datetime, str], EffectiveRules], gp: GateParams
) -> Frame:
    """``order_intents`` rows with the intents gate's flags; ``rules`` are the effective
    rules each cycle quantised with, by ``(cycle_ts, symbol)``."""
    f = Frame.of("order_intents", intents)
    p = Frame.of("portfolio_plan", plans)
    plan_by_ts = {ts: i for i, ts in enumerate(p.col("cycle_ts"))}
    p_mode, p_cash, p_target = p.col("final_mode"), p.col("cash_try"), p.col("cash_target_try")
    ex = gp.cycle.execution
    slip, fee = bps_factor(ex.slippage_bps), bps_factor(ex.fees_bps)
    side, status, qty, mark, price = (
        f.col("side"),
        f.col("status"),
        f.col("qty"),
        f.col("mark_price_try"),
        f.col("price_try"),
    )
    order_flags, after, respected, allowed = [True] * f.n, [ZERO] * f.n, [True] * f.n, [True] * f.n
    for ts, idx in f.groups().items():
        k = plan_by_ts.get(ts)
        mode = _member(Mode, p_mode[k]) if k is not None else Mode.OBSERVE_ONLY
        seen_buy, order_ok, any_buy = False, True, False
        with localcontext(MONEY_CONTEXT):
            budget = (p_cash[k] - p_target[k]) if k is not None else ZERO
            for i in idx:
                if status[i] != "PLANNED":
                    continue
                if side[i] == "BUY":
                    seen_buy = any_buy = True
                    budget -= qty[i] * mark[i] * (ONE + slip) * (ONE + fee)
                else:
                    order_ok = order_ok and not seen_buy
                    budget += qty[i] * mark[i] * (ONE - slip) * (ONE - fee)
        for i in idx:
            order_flags[i], after[i] = order_ok, budget
            respected[i] = not any_buy or budget >= ZERO
            allowed[i] = not (side[i] == "BUY" and status[i] == "PLANNED") or mode.allows_buy
    f.set("sell_before_buy", order_flags)
    f.set("cash_after_buys_try", after)
    f.set("cash_target_respected", respected)
    f.set("buy_allowed_by_mode", allowed)
    on_tick, on_lot, at_least = [True] * f.n, [True] * f.n, [True] * f.n
    for i, (ts, sym, st, pr, q) in enumerate(zip(f.col("cycle_ts"), f.col("symbol"), status, price, qty)):
        if st != "PLANNED":
            continue
        eff = rules.get((ts, sym))
        usable = eff is not None and eff.usable
        on_tick[i] = usable and pr is not None and pr % eff.price_step == ZERO  # type: ignore[union-attr,operator]
        on_lot[i] = usable and q is not None and q > ZERO and q % eff.quantity_step == ZERO  # type: ignore[union-attr,operator]
        at_least[i] = usable and pr is not None and q is not None and pr * q >= eff.min_notional_try  # type: ignore[union-attr,operator]
    f.set("price_on_tick_grid", on_tick)
    f.set("qty_on_lot_grid", on_lot)
    f.set("notional_at_least_min", at_least)
    f.set("skipped_has_reason", [st != "SKIPPED" or bool(why) for st, why in zip(status, f.col("skip_reason"))])
    return f


def fills_frame(rows: Any, gp: GateParams, orders: Any = ()) -> Frame:
    """Fills with their price checked against the fill model: the seed model fills at the
    mark ± slippage; the limit model never pays more than a BUY's limit nor gets less than
    a SELL's (the orders' limits come from the same cycles' ``orders`` rows)."""
    f = Frame.of("fills", rows)
    o = Frame.of("orders", orders)
    slip = bps_factor(gp.cycle.execution.slippage_bps)
    seed = gp.cycle.oms.fill_model == "seed"
    limits = dict(zip(zip(o.col("cycle_ts"), o.col("client_order_id")), o.col("price_try")))
    f.set("fee_non_negative", [v is not None and v >= ZERO for v in f.col("fee_try")])
    marks, prices = f.col("mark_price_try"), f.col("fill_price_try")
    f.set(
        "price_within_slippage",
        [not seed or (m is not None and pr is not None and abs(pr - m) <= m * slip) for m, pr in zip(marks, prices)],
    )
    limit = [limits.get(k) for k in zip(f.col("cycle_ts"), f.col("client_order_id"))]
    f.set("limit_price_try", limit)
    f.set(
        "price_within_limit",
        [
            seed or (lim is not None and pr is not None and (pr <= lim if sd == "BUY" else pr >= lim))
            for lim, pr, sd in zip(limit, prices, f.col("side"))
        ],
    )
    return f


def order_events_frame(rows: Any) -> Frame:
    """Order events with each order's sequence checked: numbered 1, 2, 3, … without a gap
    (an order's earlier events may lie before the chunk), and every status change one
    that the order state machine allows (:data:`~btcbot_pipeline.domain.oms.LEGAL`)."""
    f = Frame.of("order_events", rows)
    seqs, afters = f.col("seq"), f.col("status_after")
    legal = [True] * f.n
    for idx in f.groups("client_order_id").values():
        idx.sort(key=lambda i: (seqs[i] is None, seqs[i]))
        previous_seq: int | None = None
        status: str | None = None
        for i in idx:
            seq, after = seqs[i], afters[i]
            ok = seq is not None and (previous_seq is None or seq == previous_seq + 1)
            if status is None and seq == 1:
                status = OrderStatus.PLANNED.value
            if ok and status is not None and after != status:
                ok = _member(OrderStatus, after) in LEGAL[_member(OrderStatus, status)]
            legal[i] = ok
            previous_seq, status = seq, after
    f.set("symbol", [None] * f.n)
    f.set("event_sequence_legal", legal)
    return f


def ledger_frame(metrics: Any, positions: Any, gp: GateParams) -> Frame:
    """``ledger_metrics`` rows with the money identities checked exactly."""
    f = Frame.of("ledger_metrics", metrics)
    pos = Frame.of("positions", positions)
    p_qty, p_mark = pos.col("qty"), pos.col("mark_price_try")
    held = pos.groups()
    gross, realized, unrealized = f.col("gross_pnl_try"), f.col("realized_pnl_try"), f.col("unrealized_pnl_try")
    net, fees, slip = f.col("net_pnl_try"), f.col("fees_try"), f.col("slippage_try")
    equity, start, cash = f.col("equity_try"), f.col("start_capital_try"), f.col("cash_try")
    drawdown, gaps = f.col("max_drawdown"), f.col("gap_cycles")
    flags: dict[str, list[bool]] = {
        k: [True] * f.n
        for k in (
            "gross_identity",
            "net_identity",
            "equity_identity",
            "drawdown_in_unit_interval",
            "no_negative_position",
        )
    }
    with localcontext(MONEY_CONTEXT):
        for i, ts in enumerate(f.col("cycle_ts")):
            mine = held.get(ts, [])
            marked = sum((p_qty[j] * p_mark[j] for j in mine), ZERO)
            flags["gross_identity"][i] = gross[i] == realized[i] + unrealized[i]
            flags["net_identity"][i] = net[i] == gross[i] - fees[i] - slip[i]
            flags["equity_identity"][i] = equity[i] == start[i] + net[i] == cash[i] + marked
            flags["drawdown_in_unit_interval"][i] = ZERO <= drawdown[i] <= ONE
            flags["no_negative_position"][i] = all(p_qty[j] > ZERO for j in mine) and cash[i] >= ZERO
    for name, values in flags.items():
        f.set(name, values)
    f.set("no_missing_cycles", [not g for g in gaps])
    f.set("symbol", [None] * f.n)  # ledger rows are per cycle
    return f


CHAIN_COLUMNS = (
    "cycle_ts",
    "cycle_id",
    "carried_from",
    "opening_digest",
    "previous_cycle_id",
    "previous_closing_digest",
)


def chain_frame(links: Sequence[Sequence[Any]]) -> Frame:
    """The book's chain links (:meth:`~btcbot_pipeline.storage.book.Book.chain`): each
    cycle must name the cycle just before it in the book and open from the digest of the
    state that cycle closed with; only the book's first cycle opens (from nothing)."""
    links = list(links)
    f = Frame(
        {k: list(v) for k, v in zip(CHAIN_COLUMNS, zip(*links))} if links else {k: [] for k in CHAIN_COLUMNS},
        len(links),
    )
    f.set(
        "starts_from_previous_cycle",
        [
            carried == prev_id and opening == prev_digest
            for carried, opening, prev_id, prev_digest in zip(
                f.col("carried_from"),
                f.col("opening_digest"),
                f.col("previous_cycle_id"),
                f.col("previous_closing_digest"),
            )
        ],
    )
    f.set("symbol", [None] * f.n)
    return f


def _json(text: str) -> Any:
    """The value of a JSON text the trace stores, for the flags below: orjson reads it in
    about a third less time, the standard parser what orjson refuses (``NaN``). orjson reads
    an integer past 64 bits as a float: a flag here asks only whether a reason is empty
    and whether a status is a given text, which that leaves as it was."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def trace_frame(rows: Any, gp: GateParams) -> Frame:
    f = Frame.of("cycle_trace", rows)
    f.set(
        "final_not_looser_than_base",
        [
            _member(Mode, final).rank >= _member(Mode, base).rank
            for base, final in zip(f.col("base_mode"), f.col("final_mode"))
        ],
    )
    f.set(
        "skipped_has_reason",
        [all(d["reason"] for d in _json(text) if d["status"] == "SKIPPED") for text in f.col("order_decisions_json")],
    )
    f.set("symbol", [None] * f.n)
    return f


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
        _flag(
            "excluded_share_ok",
            "excluded_share",
            "skip_reason",
            description="share of candidates excluded <= STAGE7_MAX_EXCLUDED_SHARE",
        ),
        _flag("prices_positive", "best_bid", "best_ask", description="tradable: bid, ask, mark > 0"),
        _flag("bid_le_ask", "best_bid", "best_ask", description="tradable: bid <= ask"),
        _flag("volume_non_negative", "quote_volume_try"),
        _flag("fresh", "staleness_s", description="tradable: staleness <= STAGE7_MAX_DATA_AGE_SEC"),
        _flag(
            "rules_usable", "tick_size", "lot_size", "exchange_status", description="tradable: rules present and valid"
        ),
        _flag(
            "spread_within_bound", "spread_bps", severity=WARN, description="tradable: spread <= STAGE7_MAX_SPREAD_BPS"
        ),
        _flag("reason_matches_tradable", "tradable", "skip_reason", severity=WARN),
    ),
    columns=_cols(
        "market_snapshot",
        "excluded_share",
        "excluded_share_ok",
        "prices_positive",
        "bid_le_ask",
        "volume_non_negative",
        "fresh",
        "rules_usable",
        "spread_within_bound",
        "reason_matches_tradable",
    ),
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
    columns=_cols(
        "universe",
        "n_selected",
        "size_within_limit",
        "symbol_allowed",
        "ranked_in_order",
        "selected_is_top_ranked",
        "rejected_has_reason",
    ),
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
    columns=_cols(
        "plan_actions",
        "sell_before_buy",
        "cycle_notional_try",
        "cycle_notional_within_cap",
        "buy_allowed_by_mode",
        "notional_within_symbol_cap",
        "skipped_has_reason",
    ),
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
    columns=_cols(
        "order_intents",
        "sell_before_buy",
        "cash_after_buys_try",
        "cash_target_respected",
        "buy_allowed_by_mode",
        "price_on_tick_grid",
        "qty_on_lot_grid",
        "notional_at_least_min",
        "skipped_has_reason",
    ),
)

FILLS_SUITE = Suite(
    "simulated_fills_gate",
    "simulated_fills",
    (
        Expect("fill_id_unique", "unique", ("fill_id",)),
        _flag("fee_non_negative", "fee_try"),
        _flag(
            "price_within_slippage",
            "fill_price_try",
            "mark_price_try",
            description="seed fill model: the fill price is the mark ± STAGE7_SLIPPAGE_BPS",
        ),
        _flag(
            "price_within_limit",
            "side",
            "fill_price_try",
            "limit_price_try",
            description="limit fill model: a BUY never fills above its limit, a SELL never below",
        ),
    ),
    columns=_cols("fills", "fee_non_negative", "price_within_slippage", "limit_price_try", "price_within_limit"),
)

ORDER_EVENTS_SUITE = Suite(
    "order_lifecycle_gate",
    "simulated_fills",
    (
        Expect("event_id_unique", "unique", ("event_id",)),
        _flag(
            "event_sequence_legal",
            "client_order_id",
            "seq",
            "event_type",
            "status_after",
            description="each order's events are numbered without a gap and move it only as the state machine allows",
        ),
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
        _flag(
            "no_missing_cycles",
            "gap_cycles",
            "carried_from",
            severity=WARN,
            description="the ledger carried over from the cycle just before (gap_cycles = 0)",
        ),
    ),
    columns=_cols(
        "ledger_metrics",
        "gross_identity",
        "net_identity",
        "equity_identity",
        "drawdown_in_unit_interval",
        "no_negative_position",
        "no_missing_cycles",
        "symbol",
    ),
)

# Over the book, not the run's rows: the window's cycles and the first cycle after it.
CHAIN_SUITE = Suite(
    "ledger_chain_gate",
    "ledger_snapshot",
    (
        _flag(
            "starts_from_previous_cycle",
            "cycle_id",
            "carried_from",
            "previous_cycle_id",
            "opening_digest",
            "previous_closing_digest",
            description="each cycle opens from the state the book's previous cycle closed with (its id and state "
            "digest); only the book's first cycle opens from nothing, so the book opens once",
        ),
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
        MARKET_SUITE,
        UNIVERSE_SUITE,
        PLAN_SUITE,
        INTENTS_SUITE,
        FILLS_SUITE,
        ORDER_EVENTS_SUITE,
        LEDGER_SUITE,
        CHAIN_SUITE,
        TRACE_SUITE,
    )
}


# --- exact evaluation (the offending rows; also the pure reference for tests) ---------


def offending(expect: Expect, frame: Any) -> list[int]:
    """Indexes of the rows that break ``expect``, as Great Expectations counts them:
    a column's missing values are not checked by ``in_set``, ``regex`` or ``unique`` (only
    ``not_null`` checks them; a flag is never missing); a compound key counts unless all
    of its values are missing."""
    f = Frame.of(None, frame)
    col = f.col(expect.columns[0]) if expect.columns else []
    if expect.kind == "flag":
        return [i for i, v in enumerate(col) if v is not True]
    if expect.kind == "not_null":
        return [i for i, v in enumerate(col) if v is None]
    if expect.kind == "in_set":
        return [i for i, v in enumerate(col) if v is not None and v not in expect.value_set]
    if expect.kind == "regex":
        pattern = re.compile(expect.regex)
        return [i for i, v in enumerate(col) if v is not None and not pattern.search(str(v))]
    if expect.kind == "unique":
        counts: dict[tuple[Any, ...], int] = defaultdict(int)
        keys = list(zip(*(f.col(c) for c in expect.columns)))
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
        return utc.text(value)
    return value


def shown_columns(suite: Suite) -> tuple[str, ...]:
    """The columns an offending row of ``suite`` is shown with (key, observed, checked)."""
    return tuple(dict.fromkeys([*suite.key, *(c for e in suite.expectations for c in (*e.observed, *e.columns))]))


def failure_rows(suite: Suite, expect: Expect, frame: Any, limit: int = 5) -> tuple[dict[str, Any], ...]:
    f = Frame.of(None, frame)
    cols = list(dict.fromkeys([*suite.key, *expect.observed, *(c for c in expect.columns if expect.kind != "flag")]))
    return tuple({c: shown(f.col(c)[i]) for c in cols} for i in offending(expect, f)[:limit])


def with_rows(result: GateResult, frame: Any) -> GateResult:
    """``result`` (a verdict without offending rows, e.g. from GE over the narrow frame)
    with each failure's first offending rows, rendered from ``frame``: only a failed
    suite pays for showing rows."""
    if result.passed:
        return result
    f = Frame.of(None, frame)
    by_name = {e.name: e for e in result.suite.expectations}
    failures = tuple(
        x
        if x.rows or by_name[x.expectation].kind == "min_rows"
        else Failure(
            x.expectation,
            x.ge_type,
            x.column,
            x.severity,
            x.observed,
            failure_rows(result.suite, by_name[x.expectation], f),
        )
        for x in result.failures
    )
    return GateResult(result.suite, failures, result.evaluated)


def evaluate_exact(suite: Suite, frame: Any) -> GateResult:
    """The suite without GE, in pure Python: the verdict GE gives over the same frame,
    failure for failure (expectation type, column, observed count, offending rows); a test
    holds the two equal. A run of a few cycles validates this way (``GATE_VALIDATOR``)."""
    f = Frame.of(None, frame)
    failures = []
    for e in suite.expectations:
        if e.kind == "min_rows":
            if not f.n:
                failures.append(Failure(e.name, ge_type(e), e.column, e.severity, 0, ()))
            continue
        bad = offending(e, f)
        if bad:
            failures.append(Failure(e.name, ge_type(e), e.column, e.severity, len(bad), failure_rows(suite, e, f)))
    return GateResult(suite, tuple(failures), len(suite.expectations))


def gate_failure_rows(result: GateResult, frame: Any, cycle_id_for: Any) -> list[tuple[Any, ...]]:
    """``gate_failures`` rows: one per (cycle, failed expectation) of the blocking failures.

    The detail, exact: ``<GE type> on <column>: observed <chunk's count> (<n> at this
    cycle); rows: <name>=<value>, …; …`` (this cycle's first five offending rows). The
    count at this cycle lets a reader say the failure in trading terms per cycle
    (:func:`btcbot_pipeline.defs.cycle.checks.gate_failure_text`)."""
    f = Frame.of(None, frame)
    out: list[tuple[Any, ...]] = []
    exp_by_name = {e.name: e for e in result.suite.expectations}
    cycle_ts = f.col("cycle_ts")
    for x in result.failures:
        if x.severity != ERROR:
            continue
        e = exp_by_name[x.expectation]
        idx = offending(e, f)
        cycles = sorted({cycle_ts[i] for i in idx}) or sorted(set(cycle_ts))
        shown_cols = (*result.suite.key[1:], *e.observed)
        for ts in cycles:
            mine = [i for i in idx if cycle_ts[i] == ts]
            listed = "; ".join(", ".join(f"{c}={shown(f.col(c)[i])}" for c in shown_cols) for i in mine[:5])
            here = f" ({len(mine)} at this cycle)" if mine else ""
            detail = f"{x.ge_type} on {x.column}: observed {x.observed}{here}" + (f"; rows: {listed}" if listed else "")
            out.append((ts, cycle_id_for(ts), result.suite.asset, result.suite.name, x.expectation, detail))
    return out


def trading_frames(rows: Mapping[str, Any], results: Sequence[Any], gp: GateParams) -> list[tuple[Suite, Frame]]:
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


def window_frames(rows: Mapping[str, Any], results: Sequence[Any], gp: GateParams) -> list[tuple[Suite, Frame]]:
    """All seven suites over one chunk's rows, in stage order (market first)."""
    return [
        (MARKET_SUITE, market_frame(rows["market_snapshot"], gp, rows["market_cycles"])),
        (UNIVERSE_SUITE, universe_frame(rows["universe"], gp)),
        *trading_frames(rows, results, gp),
        (TRACE_SUITE, trace_frame(rows["cycle_trace"], gp)),
    ]
