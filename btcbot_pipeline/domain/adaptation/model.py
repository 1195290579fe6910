"""The values adaptation works with: bounds, settings, one cycle's statistics, the carried
state and the change record; and the two functions between them and :class:`CycleParams`.

Contract: frozen dataclasses of payload-friendly types only (Decimal, int, str, bool,
datetime, enums, tuples, str-keyed mappings, nested dataclasses), so
:mod:`btcbot_pipeline.domain.payloads` stores and reads them back as they are. Parameter
values are ``Decimal`` under their dotted name in :class:`CycleParams` (``universe.size``
too, integral); :func:`apply` turns them back into the cycle's types.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum
from typing import Mapping

from btcbot_pipeline.domain.cycle import CycleResult
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, canonical
from btcbot_pipeline.domain.oms import OmsEventType
from btcbot_pipeline.domain.params import CycleParams
from btcbot_pipeline.domain.vocabulary import Mode

# The adaptable parameters, by their path in CycleParams (the trace's active_params keys).
UNIVERSE_SIZE = "universe.size"  # STAGE7_UNIVERSE_SIZE
ORDER_OFFSET_BPS = "execution.order_offset_bps"  # STAGE7_ORDER_OFFSET_BPS
NOTIONAL_CAP_TRY = "policy.notional_cap_try_per_cycle"  # NOTIONAL_CAP_TRY_PER_CYCLE
REBALANCE_BAND_BPS = "policy.rebalance_band_bps"  # STAGE7_REBALANCE_BAND_BPS
ADAPTABLE: tuple[str, ...] = (UNIVERSE_SIZE, ORDER_OFFSET_BPS, NOTIONAL_CAP_TRY, REBALANCE_BAND_BPS)
_INTEGRAL = frozenset({UNIVERSE_SIZE})

Values = Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class ParamBound:
    """Where one parameter may go: ``low <= value <= high``, on the ``quantum`` grid, and
    at most ``max_step`` away from its current value in one change."""

    low: Decimal
    high: Decimal
    max_step: Decimal
    quantum: Decimal = ONE

    def __post_init__(self) -> None:
        if not (self.low <= self.high and self.max_step > ZERO and self.quantum > ZERO):
            raise ValueError(f"a bound needs low <= high, max_step > 0 and quantum > 0, was {self!r}")

    def clamp(self, current: Decimal, proposed: Decimal) -> Decimal:
        """``proposed`` rounded to a multiple of the quantum (half even), clipped to ``[low, high]``,
        then to ``current ± max_step``. So a value configured outside the bounds moves
        into them one step per change, never in a jump."""
        with localcontext(MONEY_CONTEXT):
            value = (proposed / self.quantum).to_integral_value(rounding=ROUND_HALF_EVEN) * self.quantum
            value = min(max(value, self.low), self.high)
            return min(max(value, current - self.max_step), current + self.max_step)


@dataclass(frozen=True, slots=True)
class AdaptationParams:
    """Adaptation's settings (``ADAPTATION_*``). Off by default. Counts are cycles; the
    window metrics they compare with are described in :mod:`.rules`."""

    enabled: bool = False  # ADAPTATION_ENABLED
    interval_cycles: int = 48  # ADAPTATION_INTERVAL_CYCLES: at most one adapt per this many cycles
    lookback_cycles: int = 48  # ADAPTATION_LOOKBACK_CYCLES: the window of CycleStats the rules read
    checkpoint_after_cycles: int = 48  # ADAPTATION_CHECKPOINT_AFTER_CYCLES: clean cycles → checkpoint
    # the bounds of the adaptable parameters
    universe_size: ParamBound = ParamBound(Decimal(3), Decimal(30), ONE)
    order_offset_bps: ParamBound = ParamBound(ZERO, Decimal(50), Decimal(2))
    notional_cap_try: ParamBound = ParamBound(Decimal(100), Decimal(10_000), Decimal(500))
    rebalance_band_bps: ParamBound = ParamBound(ZERO, Decimal(500), Decimal(25))
    # the rules' thresholds, over the window
    turnover_high: Decimal = Decimal("0.5")  # turnover / equity at or above: widen the band
    turnover_low: Decimal = Decimal("0.05")  # at or below: narrow it
    fee_burn_high_bps: Decimal = Decimal(10)  # fees / equity (bps) at or above: trade less
    fee_burn_low_bps: Decimal = Decimal(2)  # at or below (and no drawdown): a healthy window
    fill_ratio_low: Decimal = Decimal("0.5")  # orders filled / submitted below: offset closer
    fill_ratio_high: Decimal = Decimal("0.95")  # at or above: offset further (a better price)
    min_orders: int = 4  # fewer submitted orders in the window: no fill ratio (no offset rule)
    drawdown_soft_pct: Decimal = Decimal("0.02")  # window drawdown at or above: smaller cap
    # guard rails, checked every cycle while the active version is not the checkpoint
    guard_max_drawdown_pct: Decimal = Decimal("0.05")  # drawdown since the checkpoint → rollback
    guard_max_fee_burn_bps: Decimal = Decimal(50)  # fee burn of the active version's window → rollback

    def __post_init__(self) -> None:
        checks = (
            ("interval_cycles", self.interval_cycles >= 1),
            ("lookback_cycles", self.lookback_cycles >= 1),
            ("checkpoint_after_cycles", self.checkpoint_after_cycles >= 1),
            ("min_orders", self.min_orders >= 1),
            ("turnover_low < turnover_high", ZERO <= self.turnover_low < self.turnover_high),
            ("fee_burn_low_bps < fee_burn_high_bps", ZERO <= self.fee_burn_low_bps < self.fee_burn_high_bps),
            ("fill_ratio_low < fill_ratio_high", ZERO <= self.fill_ratio_low < self.fill_ratio_high),
            ("drawdown_soft_pct", self.drawdown_soft_pct > ZERO),
            ("guard_max_drawdown_pct", self.guard_max_drawdown_pct > ZERO),
            ("guard_max_fee_burn_bps", self.guard_max_fee_burn_bps > ZERO),
            ("universe_size", self.universe_size.low >= ONE and self.universe_size.quantum == ONE),
        )
        for name, ok in checks:
            if not ok:
                raise ValueError(f"adaptation parameter {name} out of range: {self!r}")

    def bound(self, name: str) -> ParamBound:
        """The bound of the adaptable parameter ``name`` (one of :data:`ADAPTABLE`)."""
        return {
            UNIVERSE_SIZE: self.universe_size,
            ORDER_OFFSET_BPS: self.order_offset_bps,
            NOTIONAL_CAP_TRY: self.notional_cap_try,
            REBALANCE_BAND_BPS: self.rebalance_band_bps,
        }[name]


@dataclass(frozen=True, slots=True)
class CycleStats:
    """What one cycle contributes to the window: its own flows (not the ledger's running
    totals) and where it closed."""

    cycle_id: str
    cycle_ts: datetime
    mode: Mode  # the cycle's final mode
    equity_try: Decimal  # closing equity
    turnover_try: Decimal  # Σ fill notional of this cycle
    fees_try: Decimal  # Σ fill fee of this cycle
    fills: int
    orders_submitted: int  # orders sent to the exchange this cycle (a SUBMITTED event)
    orders_filled: int  # orders completely filled this cycle (a FILLED event)
    max_drawdown: Decimal  # the ledger's running max drawdown (a fraction)


def cycle_stats(result: CycleResult) -> CycleStats:
    """The :class:`CycleStats` of one cycle's result."""
    with localcontext(MONEY_CONTEXT):
        turnover = sum((f.notional_try for f in result.fills), ZERO)
        fees = sum((f.fee_try for f in result.fills), ZERO)
    events = result.events
    submitted = {e.client_order_id for e in events if e.event_type is OmsEventType.SUBMITTED}
    filled = {e.client_order_id for e in events if e.event_type is OmsEventType.FILLED}
    return CycleStats(
        cycle_id=result.cycle_id,
        cycle_ts=result.cycle_ts,
        mode=result.mode.final,
        equity_try=result.metrics.equity_try,
        turnover_try=turnover,
        fees_try=fees,
        fills=len(result.fills),
        orders_submitted=len(submitted),
        orders_filled=len(filled),
        max_drawdown=result.metrics.max_drawdown,
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last parameters known good: the version, its values, the equity when it became
    the checkpoint, and that cycle (``None``: the configured values the run started with)."""

    version: int
    values: Values
    equity_try: Decimal
    cycle_id: str | None = None
    cycle_ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class AdaptationState:
    """What adaptation carries from cycle to cycle.

    ``active_version`` / ``values``: the parameters the next cycle runs with;
    ``latest_version``: the highest version ever issued (a new one is ``latest + 1``, a
    rollback returns to the checkpoint's number, so a version always names one set of
    values); ``peak_equity_try``: the highest equity since the bot last ran on the
    checkpoint's version (the guard rail's drawdown is measured from it); ``window``: the
    last ``lookback_cycles`` statistics of the active version (emptied by each change of
    values); ``cycles_since_change``: cycles the active version has run;
    ``cycles_since_evaluation``: cycles since the rules last ran.
    """

    active_version: int
    values: Values
    checkpoint: Checkpoint
    latest_version: int
    peak_equity_try: Decimal
    window: tuple[CycleStats, ...] = ()
    cycles_since_change: int = 0
    cycles_since_evaluation: int = 0

    @property
    def at_checkpoint(self) -> bool:
        return self.active_version == self.checkpoint.version


class ChangeKind(StrEnum):
    ADAPT = "adapt"  # new values from the rules: a new version
    ROLLBACK = "rollback"  # a guard rail breached: back to the checkpoint's version
    CHECKPOINT = "checkpoint"  # the active version ran clean long enough: the new checkpoint


@dataclass(frozen=True, slots=True)
class ParamChange:
    """One row of ``param_changes``.

    ``version_before`` → ``version_after``: the active version for ``adapt`` and
    ``rollback``, the checkpoint's version for ``checkpoint``; ``before`` / ``after``: every
    adaptable value as canonical text, likewise. ``metrics``: the window metrics the
    decision read; ``inputs_hash``: sha256 of the canonical inputs (state after this cycle's
    statistics, settings, cycle, kind). Decided at the end of ``cycle_id``: the change is in
    force from the next cycle.
    """

    change_id: str  # {cycle_id}:{kind}:{version_before}->{version_after}
    cycle_id: str
    cycle_ts: datetime
    kind: ChangeKind
    version_before: int
    version_after: int
    before: Mapping[str, str]
    after: Mapping[str, str]
    reason: str
    metrics: Mapping[str, str]
    inputs_hash: str


def values_of(params: CycleParams) -> dict[str, Decimal]:
    """The adaptable values of ``params``, sorted by name (integers as Decimal)."""
    out: dict[str, Decimal] = {}
    for name in sorted(ADAPTABLE):
        section, attr = name.split(".")
        value = getattr(getattr(params, section), attr)
        out[name] = Decimal(value)
    return out


def values_text(values: Values) -> dict[str, str]:
    """``values`` as canonical text (``1E+3`` → ``1000``), sorted by name."""
    return {name: canonical(values[name]) for name in sorted(values)}


def apply(params: CycleParams, values: Values) -> CycleParams:
    """``params`` with the adapted ``values`` (``dataclasses.replace`` on each section).

    Raises:
        ValueError: a name not in :data:`ADAPTABLE`, or a fractional universe size.
    """
    sections: dict[str, dict[str, object]] = {}
    for name, value in values.items():
        if name not in ADAPTABLE:
            raise ValueError(f"{name!r} is not an adaptable parameter (one of {', '.join(ADAPTABLE)})")
        section, attr = name.split(".")
        if name in _INTEGRAL:
            if value != value.to_integral_value():
                raise ValueError(f"{name} must be a whole number, was {value}")
            sections.setdefault(section, {})[attr] = int(value)
        else:
            sections.setdefault(section, {})[attr] = value
    return replace(params, **{s: replace(getattr(params, s), **changes) for s, changes in sections.items()})


def initial_state(params: CycleParams, equity_try: Decimal) -> AdaptationState:
    """Version 1: the configured values, which are also the first checkpoint, anchored at
    ``equity_try`` (the equity the run starts with)."""
    values = values_of(params)
    return AdaptationState(
        active_version=1,
        values=values,
        checkpoint=Checkpoint(version=1, values=values, equity_try=equity_try),
        latest_version=1,
        peak_equity_try=equity_try,
    )
