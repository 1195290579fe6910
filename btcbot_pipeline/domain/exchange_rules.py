"""The exchange's per-pair symbol rules as the intents stage uses them (seed PR-4 policy).

Not to be confused with :mod:`btcbot_pipeline.quality.rules` (the data-quality gates):
these are BTCTurk's tick size, lot size and minimum notional of one pair.

:func:`resolve_rules` turns a symbol's published :class:`SymbolRules` (or their absence)
into :class:`EffectiveRules`: the price and quantity grids and the minimum notional an
order must respect, with a status ``ok / fallback / missing / invalid``. A symbol whose
rules are unusable is skipped with ``rules_unavailable:<status>``; it never raises, so one
symbol's bad metadata cannot fail a cycle (the seeds' P0 crash path).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Iterable

from btcbot_pipeline.domain.market import (
    MarketSnapshot,
    RulesStatus,
    SymbolRules,
    rules_out_of_range,
)
from btcbot_pipeline.domain.money import ZERO, combined_step, scale_step
from btcbot_pipeline.domain.params import InvalidMetadataPolicy, RulesParams


@dataclass(frozen=True, slots=True)
class EffectiveRules:
    """The grids an order for ``symbol`` must sit on this cycle.

    ``price_step`` is a multiple of both the tick size and ``10**-price_scale``;
    ``quantity_step`` of both the lot size and ``10**-quantity_scale``. All three values
    are ``None`` when the rules are unusable.
    """

    symbol: str
    status: RulesStatus
    price_step: Decimal | None
    quantity_step: Decimal | None
    min_notional_try: Decimal | None
    detail: str = ""
    min_notional_source: str = "exchange"

    @property
    def usable(self) -> bool:
        return self.price_step is not None and self.quantity_step is not None and self.min_notional_try is not None


def rules_problem(rules: SymbolRules) -> str | None:
    """Why published rules cannot be used (``tick_size 0``, ``status HALTED``,
    ``quantity_scale out of range``), or None. Doctor and ``replay-validate`` warn with it."""
    return _problem(rules)


def _problem(rules: SymbolRules) -> str | None:
    """Why published rules cannot be used, or None."""
    out_of_range = rules_out_of_range(rules)
    if out_of_range is not None:
        # A value the book cannot store (bounds.py): never resolved, so a scale of 60
        # cannot reach the grid arithmetic.
        return f"{out_of_range} out of range"
    if rules.status.upper() != "TRADING":
        return f"status {rules.status}"
    if rules.tick_size is None or rules.tick_size <= ZERO:
        return f"tick_size {rules.tick_size}"
    if rules.price_scale is not None and rules.price_scale < 0:
        return f"price_scale {rules.price_scale}"
    if rules.lot_size is None and rules.quantity_scale is None:
        return "no lot size or quantity scale"
    if rules.lot_size is not None and rules.lot_size <= ZERO:
        return f"lot_size {rules.lot_size}"
    if rules.quantity_scale is not None and rules.quantity_scale < 0:
        return f"quantity_scale {rules.quantity_scale}"
    if rules.min_notional_try is not None and rules.min_notional_try <= ZERO:
        return f"min_notional {rules.min_notional_try}"
    return None


def resolve_rules(symbol: str, rules: SymbolRules | None, params: RulesParams) -> EffectiveRules:
    """Effective rules for ``symbol`` under the metadata policy in ``params``.

    - usable metadata → ``ok``; a missing ``minExchangeValue`` takes the safe floor
      ``STAGE7_RULES_SAFE_MIN_NOTIONAL_TRY`` (BTCTurk's real minimum is about 100 TRY);
    - no metadata → ``missing``; unusable metadata → ``invalid``;
    - with ``STAGE7_RULES_REQUIRE_METADATA=false`` both fall back to the
      ``STAGE7_RULES_FALLBACK_*`` values with status ``fallback``.
    """
    # Rules and params do not change within a run, but every cycle asks again for every
    # symbol. Memoised by identity (the entry keeps both objects alive, so their ids cannot
    # be reused): equal rules written differently (tick 0.010 / 0.01) are never conflated.
    key = (symbol, id(rules), id(params))
    hit = _RESOLVED.get(key)
    if hit is not None and hit[0] is rules and hit[1] is params:
        return hit[2]
    resolved = _resolve(symbol, rules, params)
    if len(_RESOLVED) >= _RESOLVED_LIMIT:  # sources that build new objects every cycle
        _RESOLVED.clear()
    _RESOLVED[key] = (rules, params, resolved)
    return resolved


_RESOLVED: dict[tuple[str, int, int], tuple[SymbolRules | None, RulesParams, EffectiveRules]] = {}
_RESOLVED_LIMIT = 4096


def _resolve(symbol: str, rules: SymbolRules | None, params: RulesParams) -> EffectiveRules:
    """Uncached :func:`resolve_rules`."""
    if rules is None:
        status, detail = RulesStatus.MISSING, "no exchange metadata for symbol"
    else:
        problem = _problem(rules)
        if problem is None:
            min_notional = rules.min_notional_try
            source = "exchange"
            if min_notional is None:
                min_notional, source = params.safe_min_notional_try, "safe_floor"
            return EffectiveRules(
                symbol=symbol,
                status=RulesStatus.OK,
                price_step=combined_step(rules.tick_size, scale_step(rules.price_scale)),
                quantity_step=combined_step(rules.lot_size, scale_step(rules.quantity_scale)),
                min_notional_try=min_notional,
                min_notional_source=source,
            )
        status, detail = RulesStatus.INVALID, f"invalid metadata: {problem}"
    if params.require_metadata:
        return EffectiveRules(symbol, status, None, None, None, detail=detail, min_notional_source="none")
    return EffectiveRules(
        symbol=symbol,
        status=RulesStatus.FALLBACK,
        price_step=params.fallback_tick_size,
        quantity_step=params.fallback_lot_size,
        min_notional_try=params.fallback_min_notional_try,
        detail=f"{status.value}: {detail}",
        min_notional_source="fallback",
    )


def rules_stats(resolved: Iterable[EffectiveRules]) -> dict[str, object]:
    """Counts and symbol lists per status, for the cycle trace's ``rules_stats``."""
    by_status: dict[str, list[str]] = {s: [] for s in _STATUSES}
    floor: list[str] = []
    for rules in resolved:
        by_status[rules.status].append(rules.symbol)  # a StrEnum member hashes as its value
        if rules.min_notional_source == "safe_floor":
            floor.append(rules.symbol)
    stats: dict[str, object] = {}
    for status, symbols in by_status.items():
        stats[f"{status}_count"] = len(symbols)
        stats[f"{status}_symbols"] = sorted(symbols)
    stats["safe_floor_symbols"] = sorted(floor)
    return stats


_STATUSES = tuple(s.value for s in RulesStatus)  # iterating the enum each cycle is slow


def exclude_unusable_rules(snapshot: MarketSnapshot, params: RulesParams) -> MarketSnapshot:
    """Mark every tradable symbol whose rules are unusable not tradable this cycle, with
    ``rules_unavailable:<status>`` (a per-symbol fault: the cycle goes on without it).

    Only under the ``skip_symbol`` metadata policy: under ``observe_only_cycle`` such a
    symbol stays a candidate and :func:`~btcbot_pipeline.domain.cycle.decide_mode` makes
    the whole cycle OBSERVE_ONLY instead, as that policy asks.
    """
    if params.invalid_metadata_policy is not InvalidMetadataPolicy.SKIP_SYMBOL:
        return snapshot
    symbols = []
    changed = False
    for s in snapshot.symbols:
        if s.skip_reason is None:
            eff = resolve_rules(s.symbol, s.rules, params)
            if not eff.usable:
                s = replace(s, skip_reason=f"rules_unavailable:{eff.status.value}")
                changed = True
        symbols.append(s)
    # Unchanged (the usual cycle): the same snapshot, not an equal copy of it.
    return replace(snapshot, symbols=tuple(symbols)) if changed else snapshot
