"""Stage 7 risk budget: the next cycle's base mode from the ledger history (pure).

After each cycle's ledger closes, :func:`decide_risk` looks at two limits and returns the
:class:`RiskState` that the *next* cycle starts from:

- **daily loss** (``STAGE7_MAX_DAILY_LOSS_TRY``): equity at this cycle minus equity at the
  start of its UTC day (the anchor) ``<= -limit`` → ``REDUCE_RISK_ONLY`` (exits only);
- **drawdown** (``STAGE7_MAX_DRAWDOWN_PCT``, a fraction): ``(peak - equity) / peak >= limit``
  → ``OBSERVE_ONLY``. The peak is the risk budget's own high-water mark.

So as a book loses money it first stops buying, then stops trading. A tripped limit is
*latched*: it keeps its mode until ``cooldown_until`` (trip time + ``STAGE7_RISK_COOLDOWN_SEC``)
has passed **and** the limit is no longer breached; a breach seen while latched extends
the cooldown. Time is the cycle time, never the wall clock, so a replay is deterministic.

An operator clear (``btcbot risk clear``) applied at a cycle drops every latch and
re-anchors the budget at the equity carried into that cycle (peak and day anchor), i.e.
the loss so far is accepted; the limits then apply to what happens next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.money import ZERO
from btcbot_pipeline.domain.vocabulary import Mode, combine_modes

DAILY_LOSS = "daily_loss_limit"
DRAWDOWN = "drawdown_limit"
LIMIT_MODE = {DAILY_LOSS: Mode.REDUCE_RISK_ONLY, DRAWDOWN: Mode.OBSERVE_ONLY}


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_drawdown_pct: Decimal = Decimal("0.25")  # STAGE7_MAX_DRAWDOWN_PCT (fraction)
    max_daily_loss_try: Decimal = Decimal("500")  # STAGE7_MAX_DAILY_LOSS_TRY
    cooldown_s: int = 900  # STAGE7_RISK_COOLDOWN_SEC


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the risk budget carries from cycle to cycle.

    ``mode`` is the base mode of the next cycle; ``latches`` maps a tripped limit to the
    time its cooldown ends.
    """

    mode: Mode = Mode.NORMAL
    peak_equity_try: Decimal | None = None
    day: str | None = None  # UTC date of ``day_start_equity_try``
    day_start_equity_try: Decimal | None = None
    latches: dict[str, datetime] = field(default_factory=dict)
    last_equity_try: Decimal | None = None
    reasons: tuple[str, ...] = ()  # why ``mode``: written into the next cycle's mode reasons

    @property
    def cooldown_until(self) -> datetime | None:
        return max(self.latches.values()) if self.latches else None


@dataclass(frozen=True, slots=True)
class RiskClear:
    """An operator's clear (row of ``risk_clears``)."""

    clear_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The decision taken at the end of ``cycle_ts`` for the next cycle."""

    cycle_ts: datetime
    mode: Mode
    reasons: tuple[str, ...]
    cooldown_until: datetime | None
    inputs_hash: str
    cleared_by: str | None
    drawdown: Decimal
    daily_pnl_try: Decimal
    state: RiskState


def apply_clear(state: RiskState, clear: RiskClear) -> RiskState:
    """Drop every latch and re-anchor at the last equity seen: the loss so far is accepted."""
    equity = state.last_equity_try
    return replace(
        state,
        mode=Mode.NORMAL,
        latches={},
        peak_equity_try=equity,
        day_start_equity_try=equity,
        reasons=(f"risk_cleared:{clear.clear_id}:{clear.reason}",),
    )


def decide_risk(
    state: RiskState,
    *,
    cycle_ts: datetime,
    equity_try: Decimal,
    limits: RiskLimits,
    floor: Mode = Mode.NORMAL,
    cleared_by: str | None = None,
) -> RiskDecision:
    """The base mode of the cycle after ``cycle_ts``, given this cycle's closing equity."""
    return decide_with_text(state, cycle_ts, equity_try, limits, limits_text(limits), floor, cleared_by)


def limits_text(limits: RiskLimits) -> str:
    """The limits' part of :attr:`RiskDecision.inputs_hash` (a fold computes it once)."""
    return "|".join(
        [format(limits.max_drawdown_pct, "f"), format(limits.max_daily_loss_try, "f"), str(limits.cooldown_s)]
    )


def decide_with_text(
    state: RiskState,
    cycle_ts: datetime,
    equity_try: Decimal,
    limits: RiskLimits,
    limits_hash_text: str,
    floor: Mode,
    cleared_by: str | None,
) -> RiskDecision:
    """:func:`decide_risk` with the limits' :func:`limits_text` computed once by the caller."""
    day = utc.day_text(cycle_ts)
    # Day anchor: the equity the day started from (the last equity of the previous day).
    if state.day != day:
        anchor = state.last_equity_try if state.last_equity_try is not None else equity_try
    else:
        anchor = state.day_start_equity_try if state.day_start_equity_try is not None else equity_try
    peak = max(state.peak_equity_try, equity_try) if state.peak_equity_try is not None else equity_try
    drawdown = (peak - equity_try) / peak if peak > ZERO else ZERO
    daily_pnl = equity_try - anchor

    breached: list[str] = []
    if daily_pnl <= -limits.max_daily_loss_try:
        breached.append(DAILY_LOSS)
    if drawdown >= limits.max_drawdown_pct:
        breached.append(DRAWDOWN)

    latches: dict[str, datetime] = {}
    for limit, ends in state.latches.items():
        if limit in breached or ends > cycle_ts:
            latches[limit] = ends
    if breached:
        until = cycle_ts + timedelta(seconds=limits.cooldown_s)
        for limit in breached:
            latches[limit] = until
    reasons: list[str] = []
    if latches:
        for limit in (DAILY_LOSS, DRAWDOWN):
            if limit in breached:
                reasons.append(f"{limit}:breached")
            elif limit in latches:
                reasons.append(f"{limit}:cooldown_until:{utc.text(latches[limit])}")
        mode = combine_modes(floor, *(LIMIT_MODE[limit] for limit in latches))
        latches = dict(sorted(latches.items()))
    else:  # the usual cycle: no limit tripped or cooling down
        mode = floor
    new_state = RiskState(
        mode=mode,
        peak_equity_try=peak,
        day=day,
        day_start_equity_try=anchor,
        latches=latches,
        last_equity_try=equity_try,
        reasons=tuple(f"risk:{r}" for r in reasons) if reasons else (),
    )
    previous_latches = ",".join(f"{k}={utc.iso(v)}" for k, v in sorted(state.latches.items())) if state.latches else ""
    digest = hashlib.sha256(
        "|".join(
            [
                utc.iso(cycle_ts),
                format(equity_try, "f"),
                format(peak, "f"),
                format(anchor, "f"),
                limits_hash_text,
                previous_latches,
                cleared_by or "",
            ]
        ).encode()
    ).hexdigest()[:16]
    return RiskDecision(
        cycle_ts=cycle_ts,
        mode=mode,
        reasons=tuple(reasons),
        cooldown_until=max(latches.values()) if latches else None,
        inputs_hash=digest,
        cleared_by=cleared_by,
        drawdown=drawdown,
        daily_pnl_try=daily_pnl,
        state=new_state,
    )
