"""Materialization metadata a person reads in the Dagster UI, per partition.

Each partition's materialization carries that partition's own figures (never the run's
last): counts, mode, a small markdown table of the partition's last cycle, and numbers
as numeric metadata so Dagster plots them by partition. Money shows rounded to 2 places
(TRY) with the exact value under ``*_exact``; each name says what it covers:
``*_partition`` this partition's cycles, ``*_since_opening`` the book since it opened,
``*_last_cycle`` the partition's last cycle.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

import dagster as dg

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.cycle import CycleResult
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.trace import CycleTrace
from btcbot_pipeline.domain.universe import UniverseSelection
from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.storage.schema import naive_utc

_MONEY_SHOWN = Decimal("0.01")


def _fmt(value: Decimal | None, grid: Decimal = _MONEY_SHOWN) -> str:
    return "" if value is None else format(value.quantize(grid), "f")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _window(cycles: Sequence[Any]) -> dict[str, Any]:
    return {"cycles": len(cycles), "last_cycle_ts": utc.iso(cycles[-1].cycle_ts) if cycles else ""}


def _provenance(source: str) -> dict[str, str] | None:
    if source != "btcturk":
        return None
    from btcbot_pipeline.adapters.btcturk.market import PROVENANCE

    return dict(PROVENANCE)


def market(snapshots: Sequence[MarketSnapshot]) -> dict[str, Any]:
    last = snapshots[-1]
    skipped = Counter(s.skip_reason for snap in snapshots for s in snap.symbols if s.skip_reason)
    return {
        **_window(snapshots),
        "symbols": len(last.symbols),
        "tradable_last_cycle": sum(1 for s in last.symbols if s.tradable),
        # Where the numbers came from and when (live sources: fetch time and endpoints).
        "source": last.source,
        "degraded_cycles": sum(1 for snap in snapshots if snap.degraded_reason),
        **({"fetched_at_last_cycle": utc.iso(last.fetched_at)} if last.fetched_at else {}),
        **({"provenance": dg.MetadataValue.json(_provenance(last.source))} if _provenance(last.source) else {}),
        "skipped_by_reason": dg.MetadataValue.json(dict(sorted(skipped.items()))),
        "last_cycle": _table(
            ["symbol", "bid", "ask", "spread bps", "24h volume TRY", "closes", "skip"],
            [
                (
                    s.symbol,
                    s.best_bid,
                    s.best_ask,
                    _fmt(s.spread_bps),
                    _fmt(s.quote_volume_try, Decimal(1)),
                    len(s.closes),
                    s.skip_reason or "",
                )
                for s in last.symbols
            ],
        ),
    }


def universe(selections: Sequence[UniverseSelection]) -> dict[str, Any]:
    last = selections[-1]
    return {
        **_window(selections),
        "selected_last_cycle": dg.MetadataValue.json(list(last.selected)),
        "eligible_last_cycle": len(last.ranked),
        "rejected_last_cycle": dg.MetadataValue.json({s: r for s, r in last.rejected}),
        "ranking": _table(
            ["rank", "symbol", "total", "liquidity", "spread", "volatility", "selected"],
            [
                (
                    n,
                    r.symbol,
                    _fmt(r.total_score, Decimal("0.0001")),
                    _fmt(r.liquidity_score, Decimal("0.0001")),
                    _fmt(r.spread_score, Decimal("0.0001")),
                    _fmt(r.volatility_score, Decimal("0.0001")),
                    r.symbol in last.selected,
                )
                for n, r in enumerate(last.ranked, start=1)
            ],
        ),
    }


def plan(results: Sequence[CycleResult]) -> dict[str, Any]:
    last = results[-1]
    actions = [a for r in results for a in r.plan.actions]
    return {
        **_window(results),
        "final_mode_last_cycle": last.mode.final.value,
        "mode_reasons": dg.MetadataValue.json(list(last.mode.reasons)),
        "actions_planned": sum(1 for a in actions if a.skip_reason is None),
        "actions_skipped": dg.MetadataValue.json(
            dict(sorted(Counter(a.skip_reason for a in actions if a.skip_reason).items()))
        ),
        "last_cycle": _table(
            ["side", "symbol", "desired TRY", "granted TRY", "reason", "status"],
            # a skipped action keeps the notional it wanted, but nothing of it was granted
            [
                (
                    a.side.value,
                    a.symbol,
                    _fmt(a.desired_notional_try),
                    _fmt(a.notional_try if a.skip_reason is None else Decimal(0)),
                    a.reason,
                    a.skip_reason or a.status.value,
                )
                for a in last.plan.actions
            ],
        ),
    }


def intents(results: Sequence[CycleResult]) -> dict[str, Any]:
    items = [i for r in results for i in r.intents]
    last = results[-1]
    return {
        **_window(results),
        "planned": sum(1 for i in items if i.planned),
        "skipped_by_reason": dg.MetadataValue.json(
            dict(sorted(Counter(i.skip_reason for i in items if i.skip_reason).items()))
        ),
        "rules_stats_last_cycle": dg.MetadataValue.json(last.rules_stats),
        "last_cycle": _table(
            ["client_order_id", "side", "price", "qty", "notional", "status"],
            [
                (
                    i.client_order_id,
                    i.side.value,
                    i.price_try,
                    i.qty,
                    _fmt(i.notional_try),
                    i.skip_reason or i.status.value,
                )
                for i in last.intents
            ],
        ),
    }


def fills(results: Sequence[CycleResult]) -> dict[str, Any]:
    items = [f for r in results for f in r.fills]
    return {
        **_window(results),
        "fills_partition": len(items),
        "notional_try_partition": _plot(sum((f.notional_try for f in items), Decimal(0))),
        "fees_try_partition": _plot(sum((f.fee_try for f in items), Decimal(0))),
        "slippage_try_partition": _plot(sum((f.slippage_try for f in items), Decimal(0))),
        "last_cycle": _table(
            ["symbol", "side", "qty", "fill price", "notional TRY", "fee TRY", "fill_id"],
            [
                (
                    f.symbol,
                    f.side.value,
                    f.qty,
                    _fmt(f.fill_price_try),
                    _fmt(f.notional_try),
                    _fmt(f.fee_try),
                    f.fill_id,
                )
                for f in results[-1].fills
            ],
        ),
    }


def money(value: Decimal) -> str:
    return _fmt(value)


def _plot(value: Decimal, grid: Decimal = _MONEY_SHOWN) -> dg.MetadataValue:
    # float-ok: display only (a plotted, rounded copy; the exact value is stored beside it)
    return dg.MetadataValue.float(float(value.quantize(grid)))


def ledger(results: Sequence[CycleResult], carried_from: str | None) -> dict[str, Any]:
    m = results[-1].metrics
    state = results[-1].state
    fills_here = [f for r in results for f in r.fills]
    fees_here = sum((f.fee_try for f in fills_here), Decimal(0))
    return {
        **_window(results),
        "carried_from_cycle": carried_from or "opening balance",
        "equity_try": _plot(m.equity_try),
        "equity_try_exact": format(m.equity_try, "f"),
        "net_pnl_try_since_opening": _plot(m.net_pnl_try),
        "net_pnl_try_exact": format(m.net_pnl_try, "f"),
        "cash_try": _plot(m.cash_try),
        "cash_try_exact": format(m.cash_try, "f"),
        "fees_try_since_opening": _plot(m.fees_try),
        "fees_try_exact": format(m.fees_try, "f"),
        "fees_try_partition": _plot(fees_here),
        "fees_try_partition_exact": format(fees_here, "f"),
        "fills_partition": len(fills_here),
        "max_drawdown_pct_since_opening": _plot(m.max_drawdown * 100, Decimal("0.0001")),
        "max_drawdown_exact": format(m.max_drawdown, "f"),
        "positions": _table(
            ["symbol", "qty", "avg cost", "mark", "value TRY"],
            [
                (s, h.qty, _fmt(h.avg_cost_try), _fmt(state.marks[s]), _fmt(h.qty * state.marks[s]))
                for s, h in state.holdings.items()
            ],
        ),
    }


_DECISIONS = dg.TableSchema(
    columns=[
        dg.TableColumn("stage", "string", description="plan (a portfolio action) or intent (an order intent)"),
        dg.TableColumn("symbol", "string"),
        dg.TableColumn("side", "string"),
        dg.TableColumn(
            "notional_try", "float", description="TRY, rounded to 2 places (exact in the book's cycle_trace)"
        ),
        dg.TableColumn("status", "string", description="PLANNED / SKIPPED / FILLED / NOT_SIMULATED"),
        dg.TableColumn("reason", "string"),
    ]
)
_SKIPPED = dg.TableSchema(
    columns=[
        dg.TableColumn("stage", "string", description="market (not tradable) or universe (not selected)"),
        dg.TableColumn("symbol", "string"),
        dg.TableColumn("reason", "string"),
    ]
)


def _float2(text: Any) -> float | None:
    # float-ok: display only (a rounded copy in a table; the exact value is in the book)
    return None if text is None else float(Decimal(str(text)).quantize(_MONEY_SHOWN))


def trace(
    traces: Sequence[CycleTrace],
    results: Sequence[CycleResult],
    snapshots: Sequence[MarketSnapshot],
    selections: Sequence[UniverseSelection],
) -> dict[str, Any]:
    """The decision trace as a person reads it: the partition's last cycle in tables
    (its decisions, mode, risk decision, skipped symbols) and counts over the partition.

    Only the last cycle is tabulated, so a day partition of 288 cycles stays small; each
    key says what it covers (``*_last_cycle`` / ``*_partition``)."""
    last, res, snap, sel = traces[-1], results[-1], snapshots[-1], selections[-1]
    decisions = json.loads(last.order_decisions_json)
    skipped = [("market", s.symbol, s.skip_reason) for s in snap.symbols if s.skip_reason]
    market_skipped = {sym for _, sym, _ in skipped}
    skipped += [("universe", sym, reason) for sym, reason in sel.rejected if sym not in market_skipped]
    risk = res.risk
    out: dict[str, Any] = {
        "cycles": len(traces),
        "final_modes_partition": dg.MetadataValue.json(dict(sorted(Counter(t.final_mode for t in traces).items()))),
        "last_cycle_id": last.cycle_id,
        "decisions_last_cycle": dg.MetadataValue.table(
            [
                dg.TableRecord(
                    {
                        "stage": d["stage"],
                        "symbol": d["symbol"],
                        "side": d["side"],
                        "notional_try": _float2(d.get("notional_try")),
                        "status": d["status"],
                        "reason": d["reason"] or "",
                    }
                )
                for d in decisions
            ],
            schema=_DECISIONS,
        ),
        "mode_last_cycle": f"{res.mode.base.value} → {res.mode.final.value}"
        + (f" (override {res.mode.override.value})" if res.mode.override is not None else ""),
        "mode_reasons_last_cycle": dg.MetadataValue.json(list(res.mode.reasons)),
        "skipped_symbols_last_cycle": dg.MetadataValue.table(
            [dg.TableRecord({"stage": stage, "symbol": sym, "reason": reason}) for stage, sym, reason in skipped],
            schema=_SKIPPED,
        ),
        "intents_planned_partition": sum(1 for r in results for i in r.intents if i.planned),
        "intents_skipped_partition": sum(1 for r in results for i in r.intents if not i.planned),
        "fills_partition": sum(len(r.fills) for r in results),
    }
    if risk is not None:
        out |= {
            # the risk budget's decision at the end of the last cycle, for the next one
            "risk_mode_next_cycle": risk.mode.value,
            "risk_reasons_next_cycle": dg.MetadataValue.json(list(risk.reasons)),
            "risk_drawdown_pct_last_cycle": _plot(risk.drawdown * 100),
            "risk_daily_pnl_try_last_cycle": _plot(risk.daily_pnl_try),
            "risk_daily_pnl_try_exact": format(risk.daily_pnl_try, "f"),
            **({"risk_cooldown_until": utc.iso(risk.cooldown_until)} if risk.cooldown_until else {}),
            **({"risk_cleared_by": risk.cleared_by} if risk.cleared_by else {}),
        }
    return out


def summary_line(
    partition: str,
    results: Sequence[CycleResult],
    selections: Sequence[UniverseSelection],
    snapshots: Sequence[MarketSnapshot],
) -> str:
    """One log line for a partition: its cycle (dry run), or its cycles' totals (a backtest
    day), with the mode, universe, intents, fills, fees and equity after the last cycle."""
    last = results[-1]
    planned = sum(1 for r in results for i in r.intents if i.planned)
    skipped = sum(1 for r in results for i in r.intents if not i.planned)
    fills = sum(len(r.fills) for r in results)
    fees = sum((f.fee_try for r in results for f in r.fills), Decimal(0))
    m = last.metrics
    if len(results) == 1:
        mode = (
            last.mode.final.value
            if last.mode.base is last.mode.final
            else f"{last.mode.base.value} → {last.mode.final.value}"
        )
        if last.mode.reasons:
            mode += f" ({', '.join(last.mode.reasons)})"
        chosen, listed = len(selections[-1].selected), len(snapshots[-1].symbols)
        head = f"cycle {partition}: mode {mode}, universe {chosen} of {listed} symbols"
        scope = ""
    else:
        modes = Counter(r.mode.final.value for r in results)
        head = f"partition {partition} ({len(results)} cycles): modes " + ", ".join(
            f"{k} ×{v}" for k, v in sorted(modes.items())
        )
        head += f", universe {len(selections[-1].selected)} of {len(snapshots[-1].symbols)} symbols at the last cycle"
        scope = " this partition"
    return (
        f"{head}; intents{scope} {planned} planned / {skipped} skipped; fills {fills}; fees {money(fees)} TRY;"
        f" equity {money(m.equity_try)} TRY, net PnL since opening {money(m.net_pnl_try)} TRY"
    )


def partition_figures(
    *,
    snapshots: Sequence[MarketSnapshot],
    selections: Sequence[UniverseSelection],
    results: Sequence[CycleResult],
    traces: Sequence[CycleTrace],
    carried_from: str | None,
) -> dict[str, dict[str, Any]]:
    """Metadata of each of the seven assets for one partition's cycles."""
    return {
        "market_snapshot": market(snapshots),
        "universe": universe(selections),
        "portfolio_plan": plan(results),
        "order_intents": intents(results),
        "simulated_fills": fills(results),
        "ledger_snapshot": ledger(results, carried_from),
        "cycle_trace": trace(traces, results, snapshots, selections),
    }


# The seeds' Stage 4: realized_today_try = realized_total_try − baseline_at_day_start, the
# baseline being the realized PnL of the book's last cycle before the cycle's UTC day began
# (0 for a book opened that day), read from the book as committed (a live partition's).
def realized_today(book: Book, cycle_ts: datetime) -> dict[str, Any]:
    """``realized_today_try`` and its baseline at the cycle's UTC day start, as text."""
    ts = naive_utc(cycle_ts)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    now = book.query("SELECT realized_pnl_try FROM ledger_metrics WHERE cycle_ts = ?", [ts])
    before = book.query(
        "SELECT realized_pnl_try FROM ledger_metrics WHERE cycle_ts < ? ORDER BY cycle_ts DESC LIMIT 1", [day]
    )
    total = Decimal(str(now[0][0])) if now else Decimal(0)
    baseline = Decimal(str(before[0][0])) if before else Decimal(0)
    return {
        "realized_today_try": format((total - baseline).normalize(), "f"),
        "realized_day_start_baseline_try": format(baseline.normalize(), "f"),
        "realized_day_start_utc": day.strftime("%Y-%m-%dT%H:%MZ"),
    }
