"""One cycle read back from the DuckDB book, in words (``btcbot summary``): its mode, market,
universe, intents, orders, fills, ledger and risk budget, or the gate that stopped it."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from btcbot_pipeline.domain import utc
from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.settings import BotSettings
from btcbot_pipeline.storage.book import Book, naive_utc

_CENT = Decimal("0.01")


class ReportError(BtcbotError):
    """The book holds nothing to report for the request."""


def _money(text: str | Decimal) -> str:
    return format(Decimal(text).quantize(_CENT), "f")


def latest_cycle_ts(book: Book) -> datetime:
    if not book.has_table("cycle_trace"):
        raise ReportError("the book has no cycle_trace table yet: materialize a cycle first")
    gated = " UNION ALL SELECT max(cycle_ts) FROM gate_failures" if book.has_table("gate_failures") else ""
    row = book.query(f"SELECT max(m) FROM (SELECT max(cycle_ts) AS m FROM cycle_trace{gated})")[0]
    if row[0] is None:
        raise ReportError("the book has no cycle traces yet: materialize a cycle first")
    return row[0].replace(tzinfo=timezone.utc)


def cycle_summary(book: Book, cycle_ts: datetime, settings: BotSettings | None = None) -> str:
    """The summary a user reads after a cycle: mode, universe, intents, fills, equity; for
    a cycle a gate stopped, why (``settings``: the gates' limits its text quotes)."""
    rows = book.query(
        "SELECT cycle_id, mode_json, selected_universe_json, intents_summary_json, order_decisions_json, "
        "ledger_metrics_json, market_notes_json FROM cycle_trace WHERE cycle_ts = ?",
        [naive_utc(cycle_ts)],
    )
    if not rows:
        stopped = gate_failures_text(book, cycle_ts, settings)
        if stopped:
            return stopped
        raise ReportError(f"no cycle trace for {utc.iso(cycle_ts)}: materialize that partition first")
    cycle_id, mode, universe, summary, decisions, ledger, market = (rows[0][0], *map(json.loads, rows[0][1:]))
    fills = book.query(
        "SELECT count(*), coalesce(sum(fee_try), 0), coalesce(sum(notional_try), 0) FROM fills WHERE cycle_ts = ?",
        [naive_utc(cycle_ts)],
    )[0]
    lines = [
        f"cycle {cycle_id} ({utc.minute_text(cycle_ts)} UTC)",
        f"  mode            base {mode['base_mode']} → final {mode['final_mode']}"
        + (f" ({', '.join(mode['reasons'])})" if mode["reasons"] else ""),
        f"  market          {market['candidates']} candidates, {len(market['skipped'])} not tradable"
        + "".join(f"\n                    {s['symbol']}: {s['reason']}" for s in market["skipped"]),
        f"  universe        {', '.join(universe) if universe else '(empty)'}",
        f"  intents         {summary['planned']} planned, {summary['skipped']} skipped"
        + "".join(f"\n                    {reason}: {n}" for reason, n in summary["skip_reasons"].items()),
    ]
    plan_skips = [d for d in decisions if d["stage"] == "plan" and d["status"] == "SKIPPED"]
    if plan_skips:
        lines.append(f"  plan skips      {len(plan_skips)}")
        lines += [f"                    {d['side']} {d['symbol']}: {d['reason']}{_wanted(d)}" for d in plan_skips]
    lines.append(orders_text(book, cycle_ts))
    lines += [
        f"  fills           {fills[0]} filled, notional {_money(fills[2])} TRY, fees {_money(fills[1])} TRY",
        f"  ledger          equity {_money(ledger['equity_try'])} TRY = cash {_money(ledger['cash_try'])} + positions "
        f"{_money(ledger['positions_value_try'])}",
        f"                  net PnL {_money(ledger['net_pnl_try'])} (gross {_money(ledger['gross_pnl_try'])}, fees "
        f"{_money(ledger['fees_try'])}, slippage {_money(ledger['slippage_try'])}), max drawdown "
        f"{Decimal(ledger['max_drawdown']):.4%}",
    ]
    if "opening" in ledger:
        opening = ledger["opening"]
        why = f" ({opening['opening_reason']})" if opening.get("opening_reason") else ""
        lines.append(f"  opening         {opening['opening_source']} {_money(opening['opening_capital_try'])} TRY{why}")
    risk = risk_decision_text(book, cycle_ts)
    if risk:
        lines.append(risk)
    return "\n".join(lines)


def _wanted(decision: dict[str, str | None]) -> str:
    """What a skipped plan action wanted (books written before it was kept show 0: nothing)."""
    notional = decision.get("notional_try")
    return f" (wanted {_money(notional)} TRY)" if notional is not None and Decimal(notional) != 0 else ""


def orders_text(book: Book, cycle_ts: datetime) -> str:
    """The simulated OMS at this cycle: its orders by status after the cycle (still open:
    PLANNED/ACKED/PARTIALLY_FILLED; ended: FILLED, CANCELED, REJECTED, EXPIRED) with the
    reasons of the ones that ended unfilled."""
    if not book.has_table("orders"):
        return "  orders          (none)"
    rows = book.query(
        "SELECT status, count(*), count(*) FILTER (WHERE filled_qty > 0 AND filled_qty < qty) FROM orders"
        " WHERE cycle_ts = ? GROUP BY status ORDER BY status",
        [naive_utc(cycle_ts)],
    )
    if not rows:
        return "  orders          (none)"
    parts = [f"{n} {status}" + (f" ({part} filled in part)" if part else "") for status, n, part in rows]
    lines = [f"  orders          {', '.join(parts)}"]
    ended = book.query(
        "SELECT status, symbol, side, reason FROM orders WHERE cycle_ts = ? AND status IN ('CANCELED', 'REJECTED', "
        "'EXPIRED')"
        " ORDER BY status, symbol, side",
        [naive_utc(cycle_ts)],
    )
    lines += [
        f"                    {status} {side} {symbol}: {reason or 'no reason'}"
        for status, symbol, side, reason in ended
    ]
    return "\n".join(lines)


def gate_failures_text(book: Book, cycle_ts: datetime, settings: BotSettings | None = None) -> str | None:
    """Which gate stopped the cycle (``gate_failures``), or None: each failure in trading
    terms with figures rounded (the limits it quotes from ``settings``, else their
    defaults), then the gate's exact detail."""
    if not book.has_table("gate_failures"):
        return None
    rows = book.query(
        "SELECT cycle_id, asset, check_name, expectation, detail FROM gate_failures WHERE cycle_ts = ? ORDER BY rowid",
        [naive_utc(cycle_ts)],
    )
    if not rows:
        return None
    # the checks' wording (imported here: it loads Dagster, which a committed cycle's summary never needs)
    from btcbot_pipeline.defs.cycle.checks import Limits, gate_failure_text, limits_for

    limits = Limits() if settings is None else limits_for(settings)
    lines = [f"cycle {rows[0][0]} ({utc.minute_text(cycle_ts)} UTC) STOPPED by a gate: nothing of it is in the book"]
    lines += [
        f"  {asset} / {check}: {gate_failure_text(expectation, detail or '', limits)}\n      exact: {detail}"
        for _, asset, check, expectation, detail in rows
    ]
    return "\n".join(lines)


def risk_decision_text(book: Book, cycle_ts: datetime) -> str | None:
    if not book.has_table("risk_decisions"):
        return None
    rows = book.query(
        "SELECT mode, reasons_json, cooldown_until, cleared_by FROM risk_decisions WHERE cycle_ts = ?",
        [naive_utc(cycle_ts)],
    )
    if not rows:
        return None
    mode, reasons, until, cleared = rows[0]
    text = f"  risk budget     next cycle {mode}"
    if json.loads(reasons):
        text += f" ({', '.join(json.loads(reasons))})"
    if until is not None:
        text += f", cooldown until {utc.minute_text(until)} UTC"
    if cleared:
        text += f", cleared by {cleared}"
    return text
