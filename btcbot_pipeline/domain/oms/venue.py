"""The venue a cycle executes on: one interface, the simulation behind it by default.

A cycle's execution stage hands its venue an :class:`ExecutionRequest` (this cycle's
intents, bars, what the plan still wants, the orders to replace) and the open orders it
carries (:class:`~.step.OmsState`); the venue answers with an :class:`~.step.OmsStep`:
the new state, this cycle's fills, order events, touched orders and idempotency rows.

- :class:`SimulatedVenue` is the pure :func:`~.step.step` (fill models, seeded failures);
- the BTCTurk venue (``btcbot_pipeline.adapters.btcturk.venue``) talks to the exchange and
  answers in the same shapes, so the ledger, the trace, the book and the gates are the
  same whichever venue ran.

``frozen`` is the kill switch (``KILL_SWITCH=true``, the seeds' semantics): no order is
placed and none is cancelled, expired or replaced; orders already resting stay resting
and may still fill, and the cycle's plan, trace and accounting are recorded.
:func:`cap_refusal` is the resting-order caps both venues apply before a submission.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from btcbot_pipeline.domain.intents import OrderIntent
from btcbot_pipeline.domain.oms.caps import MAX_OPEN_ORDERS, MAX_OPEN_ORDERS_PER_SYMBOL, cap_refusal
from btcbot_pipeline.domain.oms.exchange import Bar
from btcbot_pipeline.domain.oms.step import OmsState, OmsStep, step
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.vocabulary import Side


@dataclass(frozen=True, slots=True)
class ExecutionRequest:
    """What one cycle asks of its venue (see :func:`~.step.step` for each field's rules)."""

    cycle_id: str
    cycle_ts: datetime
    intents: Sequence[OrderIntent]
    bars: Mapping[str, Bar]
    wanted: Collection[tuple[str, Side]]
    params: OmsParams
    allow_buys: bool = True
    cancel_ids: Collection[str] = ()
    # why each of ``cancel_ids`` is cancelled (default ``replaced``; the amend: ``amended``, ``plan_dropped``)
    cancel_reasons: Mapping[str, str] = field(default_factory=dict)
    frozen: bool = False  # the kill switch: nothing placed, nothing cancelled
    holdings: Mapping[str, Decimal] = field(default_factory=dict)  # the book's quantities (a live position cap)


class Venue(Protocol):
    """Where a cycle's orders go. ``name``: ``simulated`` or ``btcturk``."""

    name: str

    def execute(self, state: OmsState, request: ExecutionRequest) -> OmsStep: ...


class SimulatedVenue:
    """The simulated exchange: :func:`~.step.step`, pure and deterministic."""

    name = "simulated"

    def execute(self, state: OmsState, request: ExecutionRequest) -> OmsStep:
        return step(
            state,
            cycle_id=request.cycle_id,
            cycle_ts=request.cycle_ts,
            intents=request.intents,
            bars=request.bars,
            wanted=request.wanted,
            params=request.params,
            allow_buys=request.allow_buys,
            cancel_ids=request.cancel_ids,
            cancel_reasons=request.cancel_reasons,
            frozen=request.frozen,
        )


SIMULATED = SimulatedVenue()


__all__ = [
    "MAX_OPEN_ORDERS",
    "MAX_OPEN_ORDERS_PER_SYMBOL",
    "SIMULATED",
    "ExecutionRequest",
    "SimulatedVenue",
    "Venue",
    "cap_refusal",
]
