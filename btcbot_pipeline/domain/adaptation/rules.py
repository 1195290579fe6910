"""The window's metrics, the guard rails and the rules that turn metrics into proposals.

Window metrics (over the ``CycleStats`` of the window, ``E`` the last closing equity),
each on a 1e-8 grid so what is compared is what is recorded:

- ``turnover_ratio`` = Σ turnover / E;
- ``fee_burn_bps`` = Σ fees / E × 10 000;
- ``fill_ratio`` = Σ orders filled / Σ orders submitted, at most 1; none below
  ``min_orders`` submitted orders;
- ``drawdown`` = (highest equity in the window − E) / that highest equity;
- ``drawdown_since_checkpoint`` = (peak equity since the bot last ran on the checkpoint − E) / that peak.

The rules (``b`` the parameter's bound; a "step" target is the bound's end, so the
clamp moves one ``max_step`` towards it; a parameter two rules aim at takes the lower target):

=========================================  ==========================================================
input (window)                              proposal
=========================================  ==========================================================
turnover_ratio ≥ turnover_high              band → b.high (widen one step: fewer rebalance trades)
turnover_ratio ≤ turnover_low               band → b.low (narrow one step)
fee_burn_bps ≥ fee_burn_high_bps            cap → cap × fee_burn_high_bps / fee_burn_bps; universe → b.low
drawdown ≥ drawdown_soft_pct                cap → cap × drawdown_soft_pct / drawdown
fill_ratio < fill_ratio_low                 offset → b.low (limits closer to the mark: more fills)
fill_ratio ≥ fill_ratio_high                offset → b.high (everything fills: ask a better price)
healthy: fee_burn ≤ low, drawdown < soft,   cap → b.high; universe → b.high (expand one step)
  fill_ratio none or ≥ fill_ratio_low
=========================================  ==========================================================

A rule whose input is missing (no fill ratio; equity ≤ 0) does not fire. The rules never
conflict in direction: fee burn and drawdown both lower the cap, and "healthy" excludes
both. Under the ``seed`` fill model every order fills, so the fill ratio is 1 and the
offset only rises (towards its bound); the ``limit`` model is the one this rule is for.

Guard rails (a rollback, while the active version is not the checkpoint):
``drawdown_since_checkpoint ≥ guard_max_drawdown_pct``, ``fee_burn_bps ≥ guard_max_fee_burn_bps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Sequence

from btcbot_pipeline.domain.adaptation.model import (
    NOTIONAL_CAP_TRY,
    ORDER_OFFSET_BPS,
    REBALANCE_BAND_BPS,
    UNIVERSE_SIZE,
    AdaptationParams,
    CycleStats,
    Values,
)
from btcbot_pipeline.domain.money import BPS, MONEY_CONTEXT, ONE, ZERO, canonical

GRID = Decimal("1E-8")


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    cycles: int
    equity_try: Decimal
    turnover_ratio: Decimal | None
    fee_burn_bps: Decimal | None
    fill_ratio: Decimal | None
    drawdown: Decimal
    drawdown_since_checkpoint: Decimal

    def as_text(self) -> dict[str, str]:
        """The metrics as canonical text (``""`` for a missing one), for a ParamChange."""
        return {
            "cycles": str(self.cycles),
            "equity_try": canonical(self.equity_try),
            "turnover_ratio": _text(self.turnover_ratio),
            "fee_burn_bps": _text(self.fee_burn_bps),
            "fill_ratio": _text(self.fill_ratio),
            "drawdown": canonical(self.drawdown),
            "drawdown_since_checkpoint": canonical(self.drawdown_since_checkpoint),
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    """Raw targets by parameter name (before the clamp), and for each parameter the
    reasons of the rules that aimed at it."""

    targets: dict[str, Decimal]
    reasons: dict[str, tuple[str, ...]]


def _text(value: Decimal | None) -> str:
    return "" if value is None else canonical(value)


def _q(value: Decimal) -> Decimal:
    return value.quantize(GRID)


def window_metrics(window: Sequence[CycleStats], peak_equity_try: Decimal, min_orders: int) -> WindowMetrics:
    """The metrics of a non-empty ``window`` (see the module docstring)."""
    if not window:
        raise ValueError("window metrics need at least one cycle")
    equity = window[-1].equity_try
    with localcontext(MONEY_CONTEXT):
        turnover = sum((s.turnover_try for s in window), ZERO)
        fees = sum((s.fees_try for s in window), ZERO)
        submitted = sum(s.orders_submitted for s in window)
        filled = sum(s.orders_filled for s in window)
        high = max(s.equity_try for s in window)
        peak = max(peak_equity_try, equity)
        positive = equity > ZERO
        return WindowMetrics(
            cycles=len(window),
            equity_try=equity,
            turnover_ratio=_q(turnover / equity) if positive else None,
            fee_burn_bps=_q(fees * BPS / equity) if positive else None,
            fill_ratio=_q(min(ONE, Decimal(filled) / Decimal(submitted))) if submitted >= min_orders else None,
            drawdown=_q((high - equity) / high) if high > ZERO else ZERO,
            drawdown_since_checkpoint=_q((peak - equity) / peak) if peak > ZERO else ZERO,
        )


def guard_breaches(m: WindowMetrics, p: AdaptationParams) -> tuple[str, ...]:
    """The guard rails ``m`` breaches, as reasons (empty: none)."""
    out: list[str] = []
    if m.drawdown_since_checkpoint >= p.guard_max_drawdown_pct:
        out.append(
            f"drawdown_since_checkpoint:{canonical(m.drawdown_since_checkpoint)}>={canonical(p.guard_max_drawdown_pct)}"
        )
    if m.fee_burn_bps is not None and m.fee_burn_bps >= p.guard_max_fee_burn_bps:
        out.append(f"fee_burn_bps:{canonical(m.fee_burn_bps)}>={canonical(p.guard_max_fee_burn_bps)}")
    return tuple(out)


def _turnover_rules(m: WindowMetrics, p: AdaptationParams) -> list[tuple[str, Decimal, str]]:
    band = p.rebalance_band_bps
    if m.turnover_ratio is None:
        return []
    if m.turnover_ratio >= p.turnover_high:
        return [
            (
                REBALANCE_BAND_BPS,
                band.high,
                f"turnover_high:{canonical(m.turnover_ratio)}>={canonical(p.turnover_high)}",
            )
        ]
    if m.turnover_ratio <= p.turnover_low:
        return [
            (REBALANCE_BAND_BPS, band.low, f"turnover_low:{canonical(m.turnover_ratio)}<={canonical(p.turnover_low)}")
        ]
    return []


def _cost_rules(values: Values, m: WindowMetrics, p: AdaptationParams) -> list[tuple[str, Decimal, str]]:
    cap = values[NOTIONAL_CAP_TRY]
    out: list[tuple[str, Decimal, str]] = []
    with localcontext(MONEY_CONTEXT):
        if m.fee_burn_bps is not None and m.fee_burn_bps >= p.fee_burn_high_bps:
            why = f"fee_burn_high:{canonical(m.fee_burn_bps)}>={canonical(p.fee_burn_high_bps)}"
            out.append((NOTIONAL_CAP_TRY, cap * p.fee_burn_high_bps / m.fee_burn_bps, why))
            out.append((UNIVERSE_SIZE, p.universe_size.low, why))
        if m.drawdown >= p.drawdown_soft_pct:
            why = f"drawdown_soft:{canonical(m.drawdown)}>={canonical(p.drawdown_soft_pct)}"
            out.append((NOTIONAL_CAP_TRY, cap * p.drawdown_soft_pct / m.drawdown, why))
    healthy = (
        m.fee_burn_bps is not None
        and m.fee_burn_bps <= p.fee_burn_low_bps
        and m.drawdown < p.drawdown_soft_pct
        and (m.fill_ratio is None or m.fill_ratio >= p.fill_ratio_low)
    )
    if healthy:
        why = f"healthy:fee_burn_bps={_text(m.fee_burn_bps)},drawdown={canonical(m.drawdown)}"
        out.append((NOTIONAL_CAP_TRY, p.notional_cap_try.high, why))
        out.append((UNIVERSE_SIZE, p.universe_size.high, why))
    return out


def _fill_rules(m: WindowMetrics, p: AdaptationParams) -> list[tuple[str, Decimal, str]]:
    offset = p.order_offset_bps
    if m.fill_ratio is None:
        return []
    if m.fill_ratio < p.fill_ratio_low:
        return [
            (ORDER_OFFSET_BPS, offset.low, f"fill_ratio_low:{canonical(m.fill_ratio)}<{canonical(p.fill_ratio_low)}")
        ]
    if m.fill_ratio >= p.fill_ratio_high:
        return [
            (
                ORDER_OFFSET_BPS,
                offset.high,
                f"fill_ratio_high:{canonical(m.fill_ratio)}>={canonical(p.fill_ratio_high)}",
            )
        ]
    return []


def propose(values: Values, m: WindowMetrics, p: AdaptationParams) -> Proposal:
    """The rules' raw targets for ``values`` given ``m`` (the table in the module docstring)."""
    targets: dict[str, Decimal] = {}
    reasons: dict[str, tuple[str, ...]] = {}
    for name, target, why in (*_turnover_rules(m, p), *_cost_rules(values, m, p), *_fill_rules(m, p)):
        targets[name] = min(targets[name], target) if name in targets else target
        reasons[name] = (*reasons.get(name, ()), why)
    return Proposal(targets=targets, reasons=reasons)


def clamped(values: Values, proposal: Proposal, p: AdaptationParams) -> dict[str, Decimal]:
    """``values`` with each proposed target clamped by its bound (:meth:`ParamBound.clamp`)."""
    out = dict(values)
    for name, target in proposal.targets.items():
        out[name] = p.bound(name).clamp(values[name], target)
    return out
