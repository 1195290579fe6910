"""One cycle of adaptation: :func:`adapt` folds a cycle's statistics into the state and
decides at most one :class:`ParamChange`.

Each cycle, in this order (the first that applies wins; the change is in force from the
next cycle):

1. disabled: the state unchanged, no change;
2. observe: append the statistics to the window (keep ``lookback_cycles``), count the
   cycle; the guard rail's peak follows the equity while the checkpoint's version is
   active and is the running high otherwise;
3. while the active version is not the checkpoint's:
   a guard rail breached → ``rollback`` to the checkpoint's version and values;
   ``checkpoint_after_cycles`` run without a breach → ``checkpoint`` (the active version
   becomes the checkpoint, anchored at this equity);
4. every ``interval_cycles`` (counted since the last evaluation or change), on a cycle
   whose final mode is NORMAL (the seeds adapt in NORMAL mode only; otherwise it waits
   for the next NORMAL cycle): the rules propose, the bounds clamp, and values that
   differ become a new version (``adapt``, version ``latest + 1``).

A change of values (adapt, rollback) empties the window and restarts both counts, so the
next decision reads only cycles run with the new values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Mapping

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.adaptation.model import (
    AdaptationParams,
    AdaptationState,
    ChangeKind,
    Checkpoint,
    CycleStats,
    ParamChange,
    Values,
    values_text,
)
from btcbot_pipeline.domain.adaptation.rules import WindowMetrics, clamped, guard_breaches, propose, window_metrics
from btcbot_pipeline.domain.money import canonical
from btcbot_pipeline.domain.vocabulary import Mode


def adapt(
    state: AdaptationState, stats: CycleStats, cycle_id: str, cycle_ts: datetime, params: AdaptationParams
) -> tuple[AdaptationState, ParamChange | None]:
    """The state after the cycle ``cycle_id`` and the change it decided, if any (see the
    module docstring)."""
    if not params.enabled:
        return state, None
    state = _observe(state, stats, params)
    metrics: WindowMetrics | None = None
    if not state.at_checkpoint:
        metrics = window_metrics(state.window, state.peak_equity_try, params.min_orders)
        breaches = guard_breaches(metrics, params)
        if breaches:
            return _rollback(state, metrics, breaches, cycle_id, cycle_ts, params)
        if state.cycles_since_change >= params.checkpoint_after_cycles:
            return _checkpoint(state, metrics, cycle_id, cycle_ts, params)
    if state.cycles_since_evaluation < params.interval_cycles or stats.mode is not Mode.NORMAL:
        return state, None
    metrics = metrics or window_metrics(state.window, state.peak_equity_try, params.min_orders)
    evaluated = replace(state, cycles_since_evaluation=0)
    proposal = propose(state.values, metrics, params)
    values = clamped(state.values, proposal, params)
    changed = [name for name in sorted(values) if values[name] != state.values[name]]
    if not changed:
        return evaluated, None
    reasons: list[str] = []
    for name in changed:  # the rules that moved a value, each once, in the order of the names
        reasons += [why for why in proposal.reasons[name] if why not in reasons]
    version = state.latest_version + 1
    after = replace(
        evaluated,
        active_version=version,
        latest_version=version,
        values=values,
        window=(),
        cycles_since_change=0,
    )
    versions, pair = (state.active_version, version), (state.values, values)
    return after, _change(state, params, (cycle_id, cycle_ts), ChangeKind.ADAPT, versions, pair, reasons, metrics)


def _observe(state: AdaptationState, stats: CycleStats, params: AdaptationParams) -> AdaptationState:
    equity = stats.equity_try
    # While the checkpoint's values run, the guard's peak follows the equity: the drawdown
    # a rollback answers is the one the bot took since it left the checkpoint.
    peak = equity if state.at_checkpoint else max(state.peak_equity_try, equity)
    return replace(
        state,
        window=(*state.window, stats)[-params.lookback_cycles :],
        peak_equity_try=peak,
        cycles_since_change=state.cycles_since_change + 1,
        cycles_since_evaluation=state.cycles_since_evaluation + 1,
    )


def _rollback(
    state: AdaptationState,
    metrics: WindowMetrics,
    breaches: tuple[str, ...],
    cycle_id: str,
    cycle_ts: datetime,
    params: AdaptationParams,
) -> tuple[AdaptationState, ParamChange]:
    checkpoint = state.checkpoint
    after = replace(
        state,
        active_version=checkpoint.version,
        values=checkpoint.values,
        peak_equity_try=metrics.equity_try,
        window=(),
        cycles_since_change=0,
        cycles_since_evaluation=0,
    )
    versions, pair = (state.active_version, checkpoint.version), (state.values, checkpoint.values)
    reasons = [f"guard:{b}" for b in breaches]
    return after, _change(state, params, (cycle_id, cycle_ts), ChangeKind.ROLLBACK, versions, pair, reasons, metrics)


def _checkpoint(
    state: AdaptationState, metrics: WindowMetrics, cycle_id: str, cycle_ts: datetime, params: AdaptationParams
) -> tuple[AdaptationState, ParamChange]:
    old = state.checkpoint
    new = Checkpoint(
        version=state.active_version,
        values=state.values,
        equity_try=metrics.equity_try,
        cycle_id=cycle_id,
        cycle_ts=cycle_ts,
    )
    after = replace(state, checkpoint=new, peak_equity_try=metrics.equity_try)
    reason = f"clean_cycles:{state.cycles_since_change}>={params.checkpoint_after_cycles}"
    versions, pair = (old.version, new.version), (old.values, state.values)
    return after, _change(state, params, (cycle_id, cycle_ts), ChangeKind.CHECKPOINT, versions, pair, [reason], metrics)


def _change(
    state: AdaptationState,
    params: AdaptationParams,
    at: tuple[str, datetime],
    kind: ChangeKind,
    versions: tuple[int, int],
    values: tuple[Values, Values],
    reasons: list[str],
    metrics: WindowMetrics,
) -> ParamChange:
    """The ParamChange of a decision at ``at`` (cycle id, time): ``versions`` and
    ``values`` before → after. The hash covers ``state`` as it stood when the decision
    was taken (this cycle's statistics in its window)."""
    (cycle_id, cycle_ts), (version_before, version_after), (before, after) = at, versions, values
    return ParamChange(
        change_id=f"{cycle_id}:{kind.value}:{version_before}->{version_after}",
        cycle_id=cycle_id,
        cycle_ts=cycle_ts,
        kind=kind,
        version_before=version_before,
        version_after=version_after,
        before=values_text(before),
        after=values_text(after),
        reason="; ".join(reasons),
        metrics=metrics.as_text(),
        inputs_hash=inputs_hash(state, params, cycle_id, cycle_ts, kind),
    )


def inputs_hash(
    state: AdaptationState, params: AdaptationParams, cycle_id: str, cycle_ts: datetime, kind: ChangeKind
) -> str:
    """sha256 (hex) of the canonical JSON of a decision's inputs: sorted keys, no spaces,
    Decimals as canonical text, times as UTC text."""
    inputs = {"cycle_id": cycle_id, "cycle_ts": cycle_ts, "kind": kind, "params": params, "state": state}
    text = json.dumps(_plain(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc.exact_text(value)
    if isinstance(value, Decimal):
        return canonical(value)
    return value
