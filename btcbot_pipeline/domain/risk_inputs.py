"""What one cycle gives the risk budget besides its closing equity (pure).

:func:`risk_inputs` reads the cycle's market snapshot, its closing metrics, the ledger
carried into it and its intents, and returns the
:class:`~btcbot_pipeline.domain.risk.RiskInputs` that
:func:`~btcbot_pipeline.domain.risk.decide_with_text` takes last:

- ``fees_try``: fees paid in this cycle, the cumulative fees at its close less those
  carried in (``metrics.fees_try - previous.fees_try``);
- ``stale_share``: the snapshot's symbols excluded as ``stale_data`` (older than
  ``STAGE7_MAX_DATA_AGE_SEC``) over all its symbols, the cycle's candidates (0 for a
  snapshot with none);
- ``ordered``: ``SYMBOL:SIDE`` of each PLANNED intent, the orders the cycle asked its
  venue to place, in intent order (what ``COOLDOWN_SECONDS`` measures from; the original
  recorded each intent its risk policy approved).

This module is apart from :mod:`~btcbot_pipeline.domain.risk` because it reads the ledger,
the market and the intents, which import the parameters, which import the risk limits.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Iterable

from btcbot_pipeline.domain.intents import OrderIntent
from btcbot_pipeline.domain.ledger import LedgerMetrics, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.domain.risk import NO_INPUTS, RiskInputs

STALE = "stale_data"  # the skip reason of a symbol older than STAGE7_MAX_DATA_AGE_SEC (domain.market)


def stale_share(snapshot: MarketSnapshot) -> Decimal:
    """The share of the snapshot's symbols excluded as ``stale_data`` (0 without symbols)."""
    stale = sum(1 for s in snapshot.symbols if s.skip_reason == STALE)
    if stale == 0:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return Decimal(stale) / len(snapshot.symbols)


def order_keys(intents: Iterable[OrderIntent]) -> tuple[str, ...]:
    """``SYMBOL:SIDE`` of each planned intent (the key of ``RiskState.last_orders``)."""
    return tuple(f"{i.symbol}:{i.side.value}" for i in intents if i.planned)


def risk_inputs(
    snapshot: MarketSnapshot,
    metrics: LedgerMetrics,
    previous: LedgerState,
    intents: Iterable[OrderIntent] = (),
) -> RiskInputs:
    """This cycle's :class:`RiskInputs` (see the module docstring); :data:`NO_INPUTS` for a
    cycle that paid no fee, saw no stale symbol and placed nothing (one shared object)."""
    fees = metrics.fees_try - previous.fees_try
    share = stale_share(snapshot)
    ordered = order_keys(intents)
    if fees == ZERO and share == ZERO and not ordered:
        return NO_INPUTS
    return RiskInputs(fees_try=fees, stale_share=share, ordered=ordered)
