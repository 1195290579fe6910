"""The Stage 7 ledger (seed PR-1 definitions are authoritative).

Conventions:

- a position's cost basis is booked at the *mark* of each fill (pre-slippage, pre-fee);
  slippage and fees are separate cost lines, so
  ``gross = realized + unrealized`` is pre-fee and pre-slippage and
  ``net = gross - fees - slippage``;
- weighted-average cost: a SELL of ``q`` from ``Q`` held releases ``cost × q / Q``
  rounded to 1e-18 TRY; ``realized = q × mark - released``. That division is the only
  rounding in the ledger, and it cancels out of the identities because the same released
  amount leaves the cost basis;
- cash moves by the fill notional (at the slipped price) and the fee;
- ``equity = start capital + net`` and, exactly, ``equity = cash + Σ qty × mark``;
  :meth:`LedgerState.snapshot` checks this and raises :class:`LedgerIntegrityError`
  otherwise. Selling more than is held is an integrity error, never clipped;
- ``max_drawdown`` is the largest ``(peak - equity) / peak`` seen so far, a fraction in
  ``[0, 1]``; the peak starts at the start capital.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, getcontext, localcontext, setcontext
from typing import Iterable, Mapping

from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.domain.oms import OmsState
from btcbot_pipeline.domain.vocabulary import Side
from btcbot_pipeline.errors import BtcbotError

_DRAWDOWN_GRID = Decimal("1E-12")
# The cost a partial SELL releases is rounded to this grid. Every other ledger amount is a
# sum of products of exact inputs, so with released cost on a fixed grid no amount ever
# needs more digits than MONEY_CONTEXT holds, and the identities stay exact.
COST_GRID = Decimal("1E-18")


class LedgerIntegrityError(BtcbotError):
    """The ledger would break an accounting invariant (oversell, broken identity)."""


@dataclass(frozen=True, slots=True)
class Holding:
    qty: Decimal
    cost_try: Decimal

    @property
    def avg_cost_try(self) -> Decimal:
        return self.cost_try / self.qty if self.qty else ZERO


@dataclass(frozen=True, slots=True)
class LedgerMetrics:
    """One row of ``ledger_metrics`` (seed column names)."""

    cycle_id: str
    cycle_ts: datetime
    realized_pnl_try: Decimal
    unrealized_pnl_try: Decimal
    gross_pnl_try: Decimal
    fees_try: Decimal
    slippage_try: Decimal
    net_pnl_try: Decimal
    equity_try: Decimal
    cash_try: Decimal
    positions_value_try: Decimal
    turnover_try: Decimal
    max_drawdown: Decimal
    start_capital_try: Decimal


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The book carried from cycle to cycle. ``marks`` keeps the last known mark of every
    symbol held, so a holding whose data went missing is still valued."""

    start_capital_try: Decimal
    cash_try: Decimal
    holdings: Mapping[str, Holding] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    realized_pnl_try: Decimal = ZERO
    fees_try: Decimal = ZERO
    slippage_try: Decimal = ZERO
    turnover_try: Decimal = ZERO
    peak_equity_try: Decimal | None = None
    max_drawdown: Decimal = ZERO
    last_cycle_ts: datetime | None = None
    # The simulated OMS's open orders, token bucket and idempotency keys: an open BUY's
    # cash and an open SELL's quantity are reserved (still the book's; the plan does not
    # spend them twice).
    oms: OmsState = field(default_factory=OmsState)

    @classmethod
    def opening(cls, start_capital_try: Decimal) -> LedgerState:
        return cls(start_capital_try=start_capital_try, cash_try=start_capital_try, peak_equity_try=start_capital_try)

    def quantities(self) -> dict[str, Decimal]:
        return {s: h.qty for s, h in self.holdings.items()}

    def apply_fills(self, fills: Iterable[SimulatedFill]) -> LedgerState:
        """The state after ``fills`` (in order). Raises LedgerIntegrityError on oversell."""
        if fills == ():  # most cycles of a backtest fill nothing
            return self
        holdings = dict(self.holdings)
        cash, realized, fees, slippage, turnover = (
            self.cash_try,
            self.realized_pnl_try,
            self.fees_try,
            self.slippage_try,
            self.turnover_try,
        )
        applied = False
        with localcontext(MONEY_CONTEXT):
            for fill in fills:
                applied = True
                held = holdings.get(fill.symbol, Holding(ZERO, ZERO))
                if fill.side is Side.BUY:
                    holdings[fill.symbol] = Holding(held.qty + fill.qty, held.cost_try + fill.qty * fill.mark_price_try)
                    cash -= fill.notional_try + fill.fee_try
                else:
                    if fill.qty > held.qty:
                        raise LedgerIntegrityError(
                            f"oversell of {fill.symbol}: fill {fill.fill_id} sells {fill.qty}, held {held.qty}"
                        )
                    released = (
                        held.cost_try
                        if fill.qty == held.qty
                        else (held.cost_try * fill.qty / held.qty).quantize(COST_GRID)
                    )
                    realized += fill.qty * fill.mark_price_try - released
                    remaining = held.qty - fill.qty
                    if remaining == ZERO:
                        holdings.pop(fill.symbol, None)
                    else:
                        holdings[fill.symbol] = Holding(remaining, held.cost_try - released)
                    cash += fill.notional_try - fill.fee_try
                fees += fill.fee_try
                slippage += fill.slippage_try
                turnover += fill.notional_try
        if not applied:
            return self
        return LedgerState(
            start_capital_try=self.start_capital_try,
            cash_try=cash,
            holdings=dict(sorted(holdings.items())),
            marks=self.marks,
            realized_pnl_try=realized,
            fees_try=fees,
            slippage_try=slippage,
            turnover_try=turnover,
            peak_equity_try=self.peak_equity_try,
            max_drawdown=self.max_drawdown,
            last_cycle_ts=self.last_cycle_ts,
            oms=self.oms,
        )

    def close_cycle(
        self, cycle_id: str, cycle_ts: datetime, marks: Mapping[str, Decimal], oms: OmsState | None = None
    ) -> tuple[LedgerState, LedgerMetrics]:
        """Mark the book to ``marks`` at the end of a cycle and compute its metrics.

        Symbols without a new mark keep their last known one. ``oms``: the OMS state the
        cycle leaves (its open orders); ``None`` keeps this state's.
        """
        holdings = self.holdings
        merged = dict(self.marks)
        for symbol in holdings:
            if symbol in marks:
                merged[symbol] = marks[symbol]
        start_capital = self.start_capital_try
        previous = getcontext()
        setcontext(MONEY_CONTEXT)  # not localcontext(): that copies the context every cycle
        try:
            positions_value = ZERO
            unrealized = ZERO
            for symbol, holding in holdings.items():
                mark = merged.get(symbol)
                if mark is None:
                    raise LedgerIntegrityError(f"no mark price ever seen for held symbol {symbol}")
                value = holding.qty * mark
                positions_value += value
                unrealized += value - holding.cost_try
            gross = self.realized_pnl_try + unrealized
            net = gross - self.fees_try - self.slippage_try
            equity = start_capital + net
            if equity != self.cash_try + positions_value:
                raise LedgerIntegrityError(
                    f"equity identity broken at {cycle_id}: start + net = {equity}, "
                    f"cash + positions = {self.cash_try + positions_value}"
                )
            peak = max(self.peak_equity_try or start_capital, equity)
            drawdown = ((peak - equity) / peak).quantize(_DRAWDOWN_GRID) if peak > ZERO else ZERO
            max_drawdown = max(self.max_drawdown, drawdown)
        finally:
            setcontext(previous)
        state = LedgerState(
            start_capital,
            self.cash_try,
            holdings,
            {s: merged[s] for s in sorted(merged) if s in holdings} if merged else {},
            self.realized_pnl_try,
            self.fees_try,
            self.slippage_try,
            self.turnover_try,
            peak,
            max_drawdown,
            cycle_ts,
            self.oms if oms is None else oms,
        )
        metrics = LedgerMetrics(
            cycle_id,
            cycle_ts,
            self.realized_pnl_try,
            unrealized,
            gross,
            self.fees_try,
            self.slippage_try,
            net,
            equity,
            self.cash_try,
            positions_value,
            self.turnover_try,
            max_drawdown,
            start_capital,
        )
        return state, metrics
