"""Stage 7 risk budget: the next cycle's base mode from the ledger history (pure).

After each cycle's ledger closes, :func:`decide_risk` looks at its limits and returns the
:class:`RiskState` that the *next* cycle starts from. Two limits read equity:

- **daily loss** (``STAGE7_MAX_DAILY_LOSS_TRY``): equity at this cycle minus equity at the
  start of its UTC day (the anchor) ``<= -limit`` → ``REDUCE_RISK_ONLY`` (exits only);
- **drawdown** (``STAGE7_MAX_DRAWDOWN_PCT``, a fraction): ``(peak - equity) / peak >= limit``
  → ``STAGE7_DRAWDOWN_MODE`` (``OBSERVE_ONLY`` by default; ``REDUCE_RISK_ONLY`` lets a
  losing book exit, as the original's Stage 7 risk budget did). The peak is the risk
  budget's own high-water mark.

Four more read what else the cycle saw (:class:`RiskInputs`, built by
:func:`~btcbot_pipeline.domain.risk_inputs.risk_inputs`). Each is off until its limit is
set, trips its own ``*_MODE`` (``REDUCE_RISK_ONLY`` by default) when the measure reaches
the limit, and keeps only the state it needs, in :class:`RiskState` fields that stay at
their default (and out of the stored payload) while it is off:

- **stale data** (``STAGE7_MAX_STALE_SHARE``): the share of the cycle's candidate symbols
  excluded as ``stale_data``;
- **fee burn** (``STAGE7_MAX_FEE_BURN_BPS``): fees paid over the last
  ``STAGE7_FEE_BURN_WINDOW_CYCLES`` cycles, in bps of this cycle's equity;
- **equity volatility** (``STAGE7_MAX_EQUITY_VOL_BPS``): the population standard deviation
  of the per-cycle equity returns ``e[i] / e[i-1] - 1`` over the last
  ``STAGE7_EQUITY_VOL_WINDOW_CYCLES`` cycles, in bps (judged once the window is full);
- **losing cycles** (``STAGE7_MAX_LOSING_CYCLES``): cycles in a row whose closing equity
  fell (a flat cycle ends the run).

So as a book loses money it first stops buying, then (by default) stops trading. A tripped
limit is *latched*: it keeps its mode until ``cooldown_until`` (trip time +
``STAGE7_RISK_COOLDOWN_SEC``) has passed **and** the limit is no longer breached; a breach
seen while latched extends the cooldown. ``ENABLE_AUTO_KILL_SWITCH`` turns a breach whose
mode is ``OBSERVE_ONLY`` into a freeze no cooldown ends: only an operator clear does.
Time is the cycle time, never the wall clock, so a replay is deterministic.

The risk state also carries, while ``COOLDOWN_SECONDS`` is set, the cycle time of the last
order per symbol and side, which :mod:`~btcbot_pipeline.domain.knobs` reads.

An operator clear (``btcbot risk clear``) applied at a cycle drops every latch (and the
freeze) and re-anchors the budget at the equity carried into that cycle (peak and day
anchor, and the fee, volatility and losing-cycle windows start again), i.e. the loss so
far is accepted; the limits then apply to what happens next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.money import BPS, MONEY_CONTEXT, ONE, ZERO
from btcbot_pipeline.domain.vocabulary import Mode, combine_modes

DAILY_LOSS = "daily_loss_limit"
DRAWDOWN = "drawdown_limit"
STALE_DATA = "stale_data_limit"
FEE_BURN = "fee_burn_limit"
EQUITY_VOL = "equity_vol_limit"
LOSING_CYCLES = "losing_cycles_limit"
LIMITS_IN_ORDER = (DAILY_LOSS, DRAWDOWN, STALE_DATA, FEE_BURN, EQUITY_VOL, LOSING_CYCLES)  # order of the reasons
AUTO_KILL = "auto_kill_switch"
# The modes a limit may trip (NORMAL would trip nothing).
RISK_MODES = (Mode.REDUCE_RISK_ONLY, Mode.OBSERVE_ONLY)
# As domain.params.WHEN_SET (params imports this module, not the other way): a limit added
# after books were recorded enters the trace's active_params only while it is set.
_WHEN_SET = {"recorded": "when_set"}


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The risk budget's limits. Every field after the first three was added later: it is
    recorded in the trace's ``active_params`` only while it differs from its default, and
    at its default it changes nothing (so books recorded before it replay the same)."""

    max_drawdown_pct: Decimal = Decimal("0.25")  # STAGE7_MAX_DRAWDOWN_PCT (fraction)
    max_daily_loss_try: Decimal = Decimal("500")  # STAGE7_MAX_DAILY_LOSS_TRY
    cooldown_s: int = 900  # STAGE7_RISK_COOLDOWN_SEC
    drawdown_mode: Mode = field(default=Mode.OBSERVE_ONLY, metadata=_WHEN_SET)  # STAGE7_DRAWDOWN_MODE
    max_stale_share: Decimal | None = field(default=None, metadata=_WHEN_SET)  # STAGE7_MAX_STALE_SHARE
    stale_share_mode: Mode = field(default=Mode.REDUCE_RISK_ONLY, metadata=_WHEN_SET)  # STAGE7_STALE_SHARE_MODE
    max_fee_burn_bps: Decimal | None = field(default=None, metadata=_WHEN_SET)  # STAGE7_MAX_FEE_BURN_BPS
    fee_burn_window: int = field(default=288, metadata=_WHEN_SET)  # STAGE7_FEE_BURN_WINDOW_CYCLES
    fee_burn_mode: Mode = field(default=Mode.REDUCE_RISK_ONLY, metadata=_WHEN_SET)  # STAGE7_FEE_BURN_MODE
    max_equity_vol_bps: Decimal | None = field(default=None, metadata=_WHEN_SET)  # STAGE7_MAX_EQUITY_VOL_BPS
    equity_vol_window: int = field(default=48, metadata=_WHEN_SET)  # STAGE7_EQUITY_VOL_WINDOW_CYCLES
    equity_vol_mode: Mode = field(default=Mode.REDUCE_RISK_ONLY, metadata=_WHEN_SET)  # STAGE7_EQUITY_VOL_MODE
    max_losing_cycles: int | None = field(default=None, metadata=_WHEN_SET)  # STAGE7_MAX_LOSING_CYCLES
    losing_cycles_mode: Mode = field(default=Mode.REDUCE_RISK_ONLY, metadata=_WHEN_SET)  # STAGE7_LOSING_CYCLES_MODE
    # The original's Stage 3/4 knobs (domain.knobs applies the first two to the plan).
    order_cooldown_s: int = field(default=0, metadata=_WHEN_SET)  # COOLDOWN_SECONDS (0: off)
    min_profit_bps: Decimal | None = field(default=None, metadata=_WHEN_SET)  # MIN_PROFIT_BPS (None: off)
    auto_kill_switch: bool = field(default=False, metadata=_WHEN_SET)  # ENABLE_AUTO_KILL_SWITCH

    def __post_init__(self) -> None:
        checks = (
            ("drawdown_mode", self.drawdown_mode in RISK_MODES, "REDUCE_RISK_ONLY or OBSERVE_ONLY"),
            ("stale_share_mode", self.stale_share_mode in RISK_MODES, "REDUCE_RISK_ONLY or OBSERVE_ONLY"),
            ("fee_burn_mode", self.fee_burn_mode in RISK_MODES, "REDUCE_RISK_ONLY or OBSERVE_ONLY"),
            ("equity_vol_mode", self.equity_vol_mode in RISK_MODES, "REDUCE_RISK_ONLY or OBSERVE_ONLY"),
            ("losing_cycles_mode", self.losing_cycles_mode in RISK_MODES, "REDUCE_RISK_ONLY or OBSERVE_ONLY"),
            ("max_stale_share", self.max_stale_share is None or ZERO < self.max_stale_share <= ONE, "in (0, 1]"),
            ("max_fee_burn_bps", self.max_fee_burn_bps is None or self.max_fee_burn_bps > ZERO, "above 0"),
            ("fee_burn_window", self.fee_burn_window >= 1, "at least 1"),
            ("max_equity_vol_bps", self.max_equity_vol_bps is None or self.max_equity_vol_bps > ZERO, "above 0"),
            ("equity_vol_window", self.equity_vol_window >= 2, "at least 2"),
            ("max_losing_cycles", self.max_losing_cycles is None or self.max_losing_cycles >= 1, "at least 1"),
            ("order_cooldown_s", self.order_cooldown_s >= 0, "at least 0"),
            ("min_profit_bps", self.min_profit_bps is None or self.min_profit_bps >= ZERO, "at least 0"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"risk limit {name} must be {rule}, was {getattr(self, name)!r}")

    def mode_of(self, limit: str) -> Mode:
        """The mode ``limit`` trips."""
        return {
            DAILY_LOSS: Mode.REDUCE_RISK_ONLY,
            DRAWDOWN: self.drawdown_mode,
            STALE_DATA: self.stale_share_mode,
            FEE_BURN: self.fee_burn_mode,
            EQUITY_VOL: self.equity_vol_mode,
            LOSING_CYCLES: self.losing_cycles_mode,
        }[limit]


# Fields of RiskState that stay out of its stored payload while at their default, so the
# risk_state_json of a run that uses none of the later inputs keeps its bytes
# (domain.payloads.SHAPES[RiskState].omit_while_default).
RISK_STATE_WHEN_SET = frozenset({"fee_window", "equity_window", "losing_cycles", "last_orders", "auto_kill"})


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the risk budget carries from cycle to cycle.

    ``mode`` is the base mode of the next cycle; ``latches`` maps a tripped limit to the
    time its cooldown ends. The fields after ``reasons`` are each kept only while the
    setting that needs it is on (:data:`RISK_STATE_WHEN_SET`).
    """

    mode: Mode = Mode.NORMAL
    peak_equity_try: Decimal | None = None
    day: str | None = None  # UTC date of ``day_start_equity_try``
    day_start_equity_try: Decimal | None = None
    latches: dict[str, datetime] = field(default_factory=dict)
    last_equity_try: Decimal | None = None
    reasons: tuple[str, ...] = ()  # why ``mode``: written into the next cycle's mode reasons
    fee_window: tuple[Decimal, ...] = ()  # fees of the last cycles, oldest first (fee burn)
    equity_window: tuple[Decimal, ...] = ()  # closing equities of the last cycles, oldest first (volatility)
    losing_cycles: int = 0  # closing equity fell this many cycles in a row (losing cycles)
    last_orders: dict[str, datetime] = field(default_factory=dict)  # "SYMBOL:SIDE" → cycle (COOLDOWN_SECONDS)
    auto_kill: str | None = None  # the limit whose breach froze the budget (ENABLE_AUTO_KILL_SWITCH)

    @property
    def cooldown_until(self) -> datetime | None:
        return max(self.latches.values()) if self.latches else None


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What one cycle saw besides its closing equity (see
    :func:`~btcbot_pipeline.domain.risk_inputs.risk_inputs`). The defaults are a cycle that
    paid no fee, had no stale symbol and placed no order: what :func:`decide_with_text`
    assumes when the caller passes none."""

    fees_try: Decimal = ZERO  # fees paid in this cycle
    stale_share: Decimal = ZERO  # share of the snapshot's candidates excluded as stale_data
    ordered: tuple[str, ...] = ()  # "SYMBOL:SIDE" of each order the cycle placed


NO_INPUTS = RiskInputs()


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
    """Drop every latch (and a freeze) and re-anchor at the last equity seen: the loss so
    far is accepted, and the fee, volatility and losing-cycle windows start again."""
    equity = state.last_equity_try
    return replace(
        state,
        mode=Mode.NORMAL,
        latches={},
        peak_equity_try=equity,
        day_start_equity_try=equity,
        reasons=(f"risk_cleared:{clear.clear_id}:{clear.reason}",),
        fee_window=(),
        equity_window=(),
        losing_cycles=0,
        auto_kill=None,
    )


def decide_risk(
    state: RiskState,
    *,
    cycle_ts: datetime,
    equity_try: Decimal,
    limits: RiskLimits,
    floor: Mode = Mode.NORMAL,
    cleared_by: str | None = None,
    inputs: RiskInputs = NO_INPUTS,
) -> RiskDecision:
    """The base mode of the cycle after ``cycle_ts``, given this cycle's closing equity."""
    return decide_with_text(state, cycle_ts, equity_try, limits, limits_text(limits), floor, cleared_by, inputs)


def limits_text(limits: RiskLimits) -> str:
    """The limits' part of :attr:`RiskDecision.inputs_hash` (a fold computes it once). A
    later limit adds ``name=value`` only while set, so the hashes of books that never set
    one stay the same."""
    parts = [format(limits.max_drawdown_pct, "f"), format(limits.max_daily_loss_try, "f"), str(limits.cooldown_s)]
    for f in fields(limits)[3:]:
        value = getattr(limits, f.name)
        if value != f.default:
            parts.append(f"{f.name}={format(value, 'f') if isinstance(value, Decimal) else value}")
    return "|".join(parts)


def uses_inputs(limits: RiskLimits) -> bool:
    """Whether any limit or knob that reads :class:`RiskInputs` or keeps state is set."""
    return (
        limits.max_stale_share is not None
        or limits.max_fee_burn_bps is not None
        or limits.max_equity_vol_bps is not None
        or limits.max_losing_cycles is not None
        or limits.order_cooldown_s > 0
        or limits.auto_kill_switch
    )


def fee_burn_bps(fees: tuple[Decimal, ...], equity_try: Decimal) -> Decimal:
    """``Σ fees / equity × 10 000``; with no equity left any fee is a full burn (10 000)."""
    total = sum(fees, ZERO)
    if total <= ZERO:
        return ZERO
    if equity_try <= ZERO:
        return BPS
    with localcontext(MONEY_CONTEXT):
        return total / equity_try * BPS


def equity_vol_bps(equities: tuple[Decimal, ...]) -> Decimal:
    """Population standard deviation of ``e[i] / e[i-1] - 1`` over consecutive equities,
    in bps (a return after an equity of 0 or less counts as 0)."""
    if len(equities) < 2:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        returns = [(b / a - ONE) if a > ZERO else ZERO for a, b in zip(equities, equities[1:])]
        mean = sum(returns, ZERO) / len(returns)
        variance = sum(((r - mean) * (r - mean) for r in returns), ZERO) / len(returns)
        return variance.sqrt() * BPS


@dataclass(frozen=True, slots=True)
class _Measures:
    """The later inputs' state after this cycle, and which of their limits it breaches."""

    breached: tuple[str, ...] = ()
    fee_window: tuple[Decimal, ...] = ()
    equity_window: tuple[Decimal, ...] = ()
    losing_cycles: int = 0
    last_orders: dict[str, datetime] = field(default_factory=dict)


def _measure(
    state: RiskState, cycle_ts: datetime, equity_try: Decimal, limits: RiskLimits, inputs: RiskInputs
) -> _Measures:
    """This cycle's measures of the later limits (only those set) and the state they carry on."""
    breached: list[str] = []
    if limits.max_stale_share is not None and inputs.stale_share >= limits.max_stale_share:
        breached.append(STALE_DATA)
    fee_window: tuple[Decimal, ...] = ()
    if limits.max_fee_burn_bps is not None:
        fee_window = (*state.fee_window, inputs.fees_try)[-limits.fee_burn_window :]
        if fee_burn_bps(fee_window, equity_try) >= limits.max_fee_burn_bps:
            breached.append(FEE_BURN)
    equity_window: tuple[Decimal, ...] = ()
    if limits.max_equity_vol_bps is not None:
        equity_window = (*state.equity_window, equity_try)[-(limits.equity_vol_window + 1) :]
        full = len(equity_window) == limits.equity_vol_window + 1
        if full and equity_vol_bps(equity_window) >= limits.max_equity_vol_bps:
            breached.append(EQUITY_VOL)
    losing = 0
    if limits.max_losing_cycles is not None:
        fell = state.last_equity_try is not None and equity_try < state.last_equity_try
        losing = state.losing_cycles + 1 if fell else 0
        if losing >= limits.max_losing_cycles:
            breached.append(LOSING_CYCLES)
    last_orders: dict[str, datetime] = {}
    if limits.order_cooldown_s > 0:  # keep only what can still hold an order back
        window = timedelta(seconds=limits.order_cooldown_s)
        last_orders = {k: ts for k, ts in state.last_orders.items() if cycle_ts - ts < window}
        last_orders.update(dict.fromkeys(inputs.ordered, cycle_ts))
        last_orders = dict(sorted(last_orders.items()))
    return _Measures(tuple(breached), fee_window, equity_window, losing, last_orders)


def _inputs_text(inputs: RiskInputs, state: RiskState) -> str:
    """The later inputs' part of the inputs hash (only when one of them is on)."""
    return "|".join(
        [
            format(inputs.fees_try, "f"),
            format(inputs.stale_share, "f"),
            ",".join(inputs.ordered),
            str(state.losing_cycles),
            state.auto_kill or "",
        ]
    )


def decide_with_text(
    state: RiskState,
    cycle_ts: datetime,
    equity_try: Decimal,
    limits: RiskLimits,
    limits_hash_text: str,
    floor: Mode,
    cleared_by: str | None,
    inputs: RiskInputs = NO_INPUTS,
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
    extras = uses_inputs(limits)
    measures = _measure(state, cycle_ts, equity_try, limits, inputs) if extras else _Measures()
    breached.extend(measures.breached)

    latches: dict[str, datetime] = {}
    for limit, ends in state.latches.items():
        if limit in breached or ends > cycle_ts:
            latches[limit] = ends
    if breached:
        until = cycle_ts + timedelta(seconds=limits.cooldown_s)
        for limit in breached:
            latches[limit] = until
    auto_kill = state.auto_kill
    if limits.auto_kill_switch and auto_kill is None:
        auto_kill = next((b for b in breached if limits.mode_of(b) is Mode.OBSERVE_ONLY), None)
    reasons: list[str] = []
    if latches or auto_kill is not None:
        if auto_kill is not None:
            reasons.append(f"{AUTO_KILL}:{auto_kill}")
        for limit in LIMITS_IN_ORDER:
            if limit in breached:
                reasons.append(f"{limit}:breached")
            elif limit in latches:
                reasons.append(f"{limit}:cooldown_until:{utc.text(latches[limit])}")
        killed = Mode.OBSERVE_ONLY if auto_kill is not None else None
        mode = combine_modes(floor, killed, *(limits.mode_of(limit) for limit in latches))
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
        fee_window=measures.fee_window,
        equity_window=measures.equity_window,
        losing_cycles=measures.losing_cycles,
        last_orders=measures.last_orders,
        auto_kill=auto_kill,
    )
    previous_latches = ",".join(f"{k}={utc.iso(v)}" for k, v in sorted(state.latches.items())) if state.latches else ""
    hashed = [
        utc.iso(cycle_ts),
        format(equity_try, "f"),
        format(peak, "f"),
        format(anchor, "f"),
        limits_hash_text,
        previous_latches,
        cleared_by or "",
    ]
    if extras:  # (books that never set a later limit keep their hashes)
        hashed.append(_inputs_text(inputs, state))
    digest = hashlib.sha256("|".join(hashed).encode()).hexdigest()[:16]
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
