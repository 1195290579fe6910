"""Stage 7 parameter adaptation, pure: the bot tunes a few of its own parameters from the
recent cycles' metrics, inside bounds, versioned, with a checkpoint and a rollback.

Off by default (:attr:`AdaptationParams.enabled`); then :func:`adapt` returns the state
as it was and no change, so a run's results are exactly those without adaptation.

The adaptable parameters (:data:`ADAPTABLE`), by their path in ``CycleParams``:
``universe.size``, ``execution.order_offset_bps``, ``policy.notional_cap_try_per_cycle``,
``policy.rebalance_band_bps``; each with a :class:`ParamBound` (low, high, max step).

What the fold does each cycle, with adaptation on::

    state = initial_state(params, start_equity)             # once, before the first cycle
    result = run_cycle(..., apply(params, state.values))    # the cycle runs on the active values
    state, change = adapt(state, cycle_stats(result), result.cycle_id, result.cycle_ts, adaptation)
    # the trace records state.active_version; a change is one param_changes row

Modules: :mod:`.model` (values, settings, state, change record, :func:`apply`),
:mod:`.rules` (window metrics, guard rails, the rules table), :mod:`.versions`
(:func:`adapt`: rollback, checkpoint, adapt).
"""

from btcbot_pipeline.domain.adaptation.model import (
    ADAPTABLE,
    NOTIONAL_CAP_TRY,
    ORDER_OFFSET_BPS,
    REBALANCE_BAND_BPS,
    UNIVERSE_SIZE,
    AdaptationParams,
    AdaptationState,
    ChangeKind,
    Checkpoint,
    CycleStats,
    ParamBound,
    ParamChange,
    apply,
    cycle_stats,
    initial_state,
    values_of,
    values_text,
)
from btcbot_pipeline.domain.adaptation.rules import (
    Proposal,
    WindowMetrics,
    clamped,
    guard_breaches,
    propose,
    window_metrics,
)
from btcbot_pipeline.domain.adaptation.versions import adapt, inputs_hash

__all__ = [
    "ADAPTABLE",
    "NOTIONAL_CAP_TRY",
    "ORDER_OFFSET_BPS",
    "REBALANCE_BAND_BPS",
    "UNIVERSE_SIZE",
    "AdaptationParams",
    "AdaptationState",
    "ChangeKind",
    "Checkpoint",
    "CycleStats",
    "ParamBound",
    "ParamChange",
    "Proposal",
    "WindowMetrics",
    "adapt",
    "apply",
    "clamped",
    "cycle_stats",
    "guard_breaches",
    "initial_state",
    "inputs_hash",
    "propose",
    "values_of",
    "values_text",
    "window_metrics",
]
