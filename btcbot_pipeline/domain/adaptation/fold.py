"""The fold with adaptation: each cycle runs with the parameters in force, then adapts.

:func:`run_adaptive` is :func:`~btcbot_pipeline.domain.cycle.run_cycles` for a book that
adapts: cycle by cycle, the active values are applied to the configured parameters
(:func:`.model.apply`), the universe is selected with them (the universe size adapts),
the cycle runs, and :func:`.versions.adapt` reads its statistics; a change decided at the
end of a cycle is in force from the next one. :class:`AdaptedCycle` says, per cycle, the
version it ran with, its values, the change it decided and the state carried on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from btcbot_pipeline.domain.adaptation.model import (
    AdaptationParams,
    AdaptationState,
    ParamChange,
    Values,
    apply,
    cycle_stats,
    initial_state,
)
from btcbot_pipeline.domain.adaptation.versions import adapt
from btcbot_pipeline.domain.cycle import CycleResult, run_cycles
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.oms.venue import SIMULATED, Venue
from btcbot_pipeline.domain.params import CycleParams
from btcbot_pipeline.domain.risk import RiskClear, RiskState
from btcbot_pipeline.domain.universe import UniverseSelection, select_universe


@dataclass(frozen=True, slots=True)
class AdaptedCycle:
    """One cycle of an adapting fold: ``version`` / ``values`` it ran with, ``params`` (the
    configured ones with those values), ``change`` it decided, ``state`` carried on."""

    version: int
    values: Values
    params: CycleParams
    change: ParamChange | None
    state: AdaptationState


def opening_equity(state: LedgerState) -> Decimal:
    """The equity a fold starts from: cash + Σ qty × mark, or the start capital while a
    holding has no mark yet (an opening book)."""
    if all(s in state.marks for s in state.holdings):
        return state.cash_try + sum((h.qty * state.marks[s] for s, h in state.holdings.items()), Decimal(0))
    return state.start_capital_try


def run_adaptive(
    snapshots: Sequence[MarketSnapshot],
    state: LedgerState,
    params: CycleParams,
    adaptation: AdaptationParams,
    carried: AdaptationState | None = None,
    *,
    risk: RiskState | None = None,
    clear: RiskClear | None = None,
    venue: Venue = SIMULATED,
) -> tuple[list[UniverseSelection], list[CycleResult], list[AdaptedCycle]]:
    """Consecutive cycles, each with the parameters in force (see the module docstring);
    ``carried``: the state the previous cycle left (``None``: version 1, the configured values)."""
    current = carried if carried is not None else initial_state(params, opening_equity(state))
    selections: list[UniverseSelection] = []
    results: list[CycleResult] = []
    adapted: list[AdaptedCycle] = []
    by_version: dict[int, CycleParams] = {}
    for snapshot in snapshots:
        version = current.active_version
        active = by_version.get(version)
        if active is None:
            active = by_version[version] = apply(params, current.values)
        selection = select_universe(snapshot, active.universe)
        (result,) = run_cycles([snapshot], [selection], state, active, risk=risk, clear=clear, venue=venue)
        values = current.values
        current, change = adapt(current, cycle_stats(result), result.cycle_id, result.cycle_ts, adaptation)
        selections.append(selection)
        results.append(result)
        adapted.append(AdaptedCycle(version, values, active, change, current))
        state, clear = result.state, None
        risk = result.risk.state if result.risk is not None else None
    return selections, results, adapted
